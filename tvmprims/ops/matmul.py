"""Matrix multiplication ``C = A @ B``: A (M, K), B (K, N) -> C (M, N), as ``numpy.matmul``."""

from .._tvm import te
from ..workload import Workload
from ._checks import require

__all__ = ["workload", "compute", "output_shape", "flops", "MATMUL", "STAGES"]

#: Stage name of the product.
MATMUL = "matmul"
STAGES = (MATMUL,)


def workload(a_shape, b_shape, dtype="float32"):
    """Validate shapes and return the matmul workload."""
    require(len(a_shape) == 2 and len(b_shape) == 2,
            f"matmul expects 2-D operands, got shapes {tuple(a_shape)} and {tuple(b_shape)}")
    require(a_shape[1] == b_shape[0],
            f"matmul inner dimensions differ: a is {tuple(a_shape)}, b is {tuple(b_shape)}")
    return Workload.make("matmul", (a_shape, b_shape), dtype)


def output_shape(wl):
    (m, _), (_, n) = wl.shapes
    return (m, n)


def flops(wl):
    (m, k), (_, n) = wl.shapes
    return 2 * m * n * k


def compute(wl):
    (m, k), (_, n) = wl.shapes
    a = te.placeholder((m, k), wl.dtype, name="A")
    b = te.placeholder((k, n), wl.dtype, name="B")
    r = te.reduce_axis((0, k), name="k")
    c = te.compute((m, n), lambda i, j: te.sum(a[i, r] * b[r, j], axis=r), name=MATMUL)
    return [a, b, c]
