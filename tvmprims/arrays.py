"""Array handling at the numpy boundary: dtype checks, contiguity, alignment, allocation."""

import math

import numpy as np

from .workload import DTYPE_NAMES, SUPPORTED_DTYPES

__all__ = ["as_input", "readable", "common_dtype", "aligned_empty", "all_finite", "ALIGNMENT"]

#: Alignment of the buffers tvmprims allocates itself (outputs, staging). Kernels compiled
#: by tvmprims need only element alignment (see ``tvmprims._tvm.element_aligned_arguments``),
#: which every numpy array made the usual ways has; a library whose sidecar records no
#: ``alignment`` (exported before that) assumes 64 bytes, and :class:`~tvmprims.Kernel`
#: copies its inputs to such an alignment.
ALIGNMENT = 64


def as_input(x, name, alignment=None):
    """``x`` as a C-contiguous float ndarray whose address is a multiple of ``alignment``
    bytes (default: the element size), copied only when it is not (a non-contiguous view, or
    an address off its element size); C-contiguous arrays are used in place.

    Lists and tuples of Python numbers (integers, floats, bools) become float32, the
    default dtype; pass a numpy array to compute in float64. Array objects (numpy, torch CPU
    tensors) keep their dtype, and any dtype other than float32/float64 raises ``TypeError``.
    """
    if type(x) is np.ndarray and x.dtype in DTYPE_NAMES and x.size:
        flags = x.flags  # "aligned": the address is a multiple of the element size
        if flags.c_contiguous and flags.aligned and flags.writeable and (
                alignment is None or not x.ctypes.data % alignment):
            return x  # the common case, checked cheaply
    if isinstance(x, np.ma.MaskedArray):  # the kernels would read the masked values too
        raise TypeError(f"{name} is a masked array; pass {name}.filled(value) to choose what "
                        "its masked elements count as")
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
    if not (x.flags.c_contiguous and x.flags.aligned) or (
            alignment is not None and x.ctypes.data % alignment):
        copy = aligned_empty(x.shape, x.dtype)
        copy[...] = x
        x = copy
    elif not x.flags.writeable:
        x = readable(x)
    return x


class _WriteableAlias:
    """Holds a read-only array and describes its memory as writeable (``readable``)."""

    def __init__(self, a):
        interface = dict(a.__array_interface__)
        interface["data"] = (interface["data"][0], False)  # (address, read-only)
        self.__array_interface__ = interface
        self.base = a  # keeps the memory alive as long as the alias


def readable(a):
    """A writeable ndarray over the memory of the read-only C-contiguous ``a``, without a
    copy, for the kernels' inputs (``np.frombuffer``, read-only memory maps, weights with
    ``write=False``). numpy refuses to export a read-only array through the DLPack version
    TVM's calls use (``BufferError``); the kernels never write their inputs."""
    return np.asarray(_WriteableAlias(a))


def common_dtype(arrays, names):
    """The one dtype shared by ``arrays``; mixed dtypes raise ``TypeError``."""
    dtype = arrays[0].dtype
    for a in arrays:
        if a.dtype != dtype:
            listing = ", ".join(f"{n}={a.dtype}" for n, a in zip(names, arrays))
            raise TypeError(f"mixed dtypes ({listing}): cast the inputs to one dtype")
    return DTYPE_NAMES[dtype]


def aligned_empty(shape, dtype):
    """An uninitialised C-contiguous array whose data is ``ALIGNMENT``-byte aligned."""
    dtype = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def all_finite(a):
    """Whether every element of ``a`` is finite, from one BLAS dot product (a fifth of the
    time of ``np.isfinite(a).all()``): ``a . a`` is NaN or inf when any element is; a finite
    sum that overflows only costs the caller a rerun."""
    flat = a.reshape(-1)
    return bool(np.isfinite(np.dot(flat, flat)))
