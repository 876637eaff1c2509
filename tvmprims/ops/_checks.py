"""Shape and parameter checks shared by the operator definitions."""

import numbers

import numpy as np

__all__ = ["require", "is_int", "pair", "positive_pair", "conv_output_size", "NotApplicable",
           "applicable"]


def is_int(value):
    """An integer (Python or numpy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def require(condition, message):
    """Raise ``ValueError(message)`` unless ``condition``."""
    if not condition:
        raise ValueError(message)


class NotApplicable(ValueError):
    """An algorithm does not support these parameters (Winograd with a 5x5 kernel, FFT with
    stride 2, ...). The algorithm search reports the message as the reason it was skipped."""


def applicable(condition, message):
    """Raise :class:`NotApplicable` (a ``ValueError``) with ``message`` unless ``condition``."""
    if not condition:
        raise NotApplicable(message)


def pair(value, name):
    """An int or a pair of ints as a pair of ints."""
    if is_int(value):
        return (int(value), int(value))
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    if len(items) != 2 or not all(is_int(v) for v in items):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    return tuple(int(v) for v in items)


def positive_pair(value, name):
    result = pair(value, name)
    require(min(result) >= 1, f"{name} must be positive, got {value!r}")
    return result


def conv_output_size(size, pad_total, kernel, stride, dilation, axis):
    """Output length of a convolution along one axis; raises if the kernel does not fit."""
    span = dilation * (kernel - 1) + 1
    require(size + pad_total >= span,
            f"kernel extent {span} along {axis} (kernel {kernel}, dilation {dilation}) is larger "
            f"than the padded input ({size} + padding {pad_total})")
    return (size + pad_total - span) // stride + 1
