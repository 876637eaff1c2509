"""Studies run with tvmprims (``tvmprims study NAME``): each writes CSV and PNG files.

* :mod:`~tvmprims.studies.precision`: error of every algorithm at every precision.
* :mod:`~tvmprims.studies.rank`: truncated-SVD error and low-rank speed-up against rank.
* :mod:`~tvmprims.studies.mnist`: an MNIST-format MLP with low-rank layers, accuracy and speed
  against rank (``tvmprims mnist``).

:func:`quick_mode` tells the notebooks in ``notebooks/`` to run their studies small, as the
CLI's ``--quick`` does (CI executes every notebook that way).
"""

import os

__all__ = ["QUICK_ENV", "quick_mode"]

#: The environment variable that switches the notebooks to their quick (CI) versions.
QUICK_ENV = "TVMPRIMS_QUICK"


def quick_mode():
    """Whether ``$TVMPRIMS_QUICK`` asks for the quick versions of the studies.

    Returns
    -------
    bool
        True when the variable is set to anything but ``""``, ``"0"``, ``"false"`` or
        ``"no"`` (case-insensitive); False when it is unset, so the full studies are the
        default.
    """
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")
