"""The tvmprims release (its own module, so that modules below the package facade, such as
the algorithm search keying its cache by release, read it without importing the package)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
