"""Array handling at the numpy boundary: dtype checks, contiguity, alignment, allocation."""

import math

import numpy as np

from .workload import DTYPE_NAMES, SUPPORTED_DTYPES

__all__ = ["as_input", "common_dtype", "aligned_empty", "ALIGNMENT"]

#: TVM declares its argument buffers 64-byte aligned and emits aligned vector loads, so an
#: array that is not (glibc returns large blocks at 16 mod 64) is copied into one that is.
ALIGNMENT = 64



def as_input(x, name):
    """``x`` as a C-contiguous, 64-byte aligned float ndarray (copied only when needed).

    Lists and tuples of Python numbers (integers, floats, bools) become float32, the
    default dtype; pass a numpy array to compute in float64. Array objects (numpy, torch CPU
    tensors) keep their dtype, and any dtype other than float32/float64 raises ``TypeError``.
    """
    if (type(x) is np.ndarray and x.dtype in DTYPE_NAMES and x.size and x.flags.c_contiguous
            and not x.ctypes.data % ALIGNMENT):
        return x  # the common case, checked cheaply
    if isinstance(x, (list, tuple)):  # Python numbers: float32, whatever their type
        x = np.asarray(x)
        if x.dtype.kind in "iubf":
            x = x.astype(np.float32)
    elif not isinstance(x, np.ndarray):  # torch tensors and other array objects
        try:
            x = np.asarray(x)
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError(f"{name} cannot be read as a numpy array ({type(x).__name__}): {e}") from None
    if x.dtype not in DTYPE_NAMES:
        raise TypeError(f"{name} has dtype {x.dtype}; tvmprims supports {', '.join(SUPPORTED_DTYPES)}")
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}); zero-size dimensions are not supported")
    if not x.flags.c_contiguous or x.ctypes.data % ALIGNMENT:
        copy = aligned_empty(x.shape, x.dtype)
        copy[...] = x
        x = copy
    return x


def common_dtype(arrays, names):
    """The one dtype shared by ``arrays``; mixed dtypes raise ``TypeError``."""
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) != 1:
        listing = ", ".join(f"{n}={a.dtype}" for n, a in zip(names, arrays))
        raise TypeError(f"mixed dtypes ({listing}): cast the inputs to one dtype")
    return DTYPE_NAMES[dtypes.pop()]


def aligned_empty(shape, dtype):
    """An uninitialised C-contiguous array whose data is ``ALIGNMENT``-byte aligned."""
    dtype = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + nbytes].view(dtype).reshape(shape)
