"""1-D convolution with ``numpy.convolve`` semantics.

Shapes: a (n,), v (m,) with n >= m (``numpy.convolve`` swaps the operands when v is longer;
the API does the same, which is exact because convolution commutes) ->
``full`` (n + m - 1,), ``same`` (n,), ``valid`` (n - m + 1,).
``out[i] = sum_j a[i + s - j] * v[j]``, with ``s`` the mode's offset into the full result.
"""

from .._tvm import te
from ..workload import Workload
from ._checks import require

__all__ = ["workload", "compute", "output_shape", "flops", "MODES", "PAD", "CONVOLVE", "STAGES"]

MODES = ("full", "same", "valid")

#: Stage names: the zero-padded signal (absent when no output reads past its ends) and the
#: convolution.
PAD = "pad"
CONVOLVE = "convolve"
STAGES = (PAD, CONVOLVE)


def workload(a_shape, v_shape, dtype="float32", mode="full"):
    """Validate shapes and mode; return the workload (operands must already be ordered n >= m)."""
    require(len(a_shape) == 1 and len(v_shape) == 1,
            f"convolve expects 1-D operands, got shapes {tuple(a_shape)} and {tuple(v_shape)}")
    require(mode in MODES, f"convolve mode must be one of {MODES}, got {mode!r}")
    require(a_shape[0] >= v_shape[0], "convolve: the first operand must be the longer one")
    return Workload.make("convolve", (a_shape, v_shape), dtype, mode=mode)


def _offset_and_length(wl):
    (n,), (m,) = wl.shapes
    mode = wl["mode"]
    if mode == "full":
        return 0, n + m - 1
    if mode == "same":
        return (m - 1) // 2, n
    return m - 1, n - m + 1


def output_shape(wl):
    return (_offset_and_length(wl)[1],)


def flops(wl):
    return 2 * output_shape(wl)[0] * wl.shapes[1][0]


def compute(wl):
    (n,), (m,) = wl.shapes
    offset, length = _offset_and_length(wl)
    a = te.placeholder((n,), wl.dtype, name="A")
    v = te.placeholder((m,), wl.dtype, name="V")
    # Windows of out[i] read a[i + shift + j] for j in [0, m) against v reversed.
    shift = offset - (m - 1)
    if shift >= 0 and length + m - 1 + shift <= n:
        padded, shift_p = a, shift
    else:
        padded = te.compute(
            (length + m - 1,),
            lambda t: te.if_then_else(te.all(t + shift >= 0, t + shift < n), a[t + shift],
                                      te.const(0, wl.dtype)),
            name=PAD)
        shift_p = 0
    j = te.reduce_axis((0, m), name="j")
    out = te.compute((length,), lambda i: te.sum(padded[i + shift_p + j] * v[m - 1 - j], axis=j),
                     name=CONVOLVE)
    return [a, v, out]
