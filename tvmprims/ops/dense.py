"""Fully connected layer ``y = act(x @ w + bias)``: x (M, K), w (K, N), bias (N,) or None ->
(M, N), with ``act`` ReLU when ``relu`` else identity.

``w`` is the transposed ``torch.nn.Linear`` weight (stored (N, K) there): transposed once
when a layer is built (:mod:`tvmprims.nn`), so the kernel is a plain GEMM whose bias and
ReLU run in its write-back.
"""

from .._tvm import te
from ..workload import Workload
from ._checks import require

__all__ = ["workload", "compute", "output_shape", "flops", "MATMUL", "EPILOGUE", "STAGES"]

#: Stage names: the product, and the bias/ReLU epilogue (absent without bias and ReLU).
MATMUL = "matmul"
EPILOGUE = "epilogue"
STAGES = (MATMUL, EPILOGUE)


def workload(x_shape, w_shape, bias_shape=None, dtype="float32", relu=False):
    """Validate shapes and return the dense workload."""
    require(len(x_shape) == 2 and len(w_shape) == 2,
            f"dense expects x (M, K) and w (K, N), got shapes {tuple(x_shape)} and "
            f"{tuple(w_shape)}")
    require(x_shape[1] == w_shape[0],
            f"dense: x has {x_shape[1]} features but w has {w_shape[0]} rows")
    if bias_shape is not None:
        require(tuple(bias_shape) == (w_shape[1],),
                f"bias must have shape ({w_shape[1]},), got {tuple(bias_shape)}")
    shapes = (x_shape, w_shape) + ((bias_shape,) if bias_shape is not None else ())
    return Workload.make("dense", shapes, dtype, relu=bool(relu))


def output_shape(wl):
    return (wl.shapes[0][0], wl.shapes[1][1])


def flops(wl):
    m, n = output_shape(wl)
    k = wl.shapes[0][1]
    return m * n * (2 * k + (len(wl.shapes) == 3) + wl["relu"])


def compute(wl):
    (m, k), (_, n) = wl.shapes[:2]
    x = te.placeholder((m, k), wl.dtype, name="X")
    w = te.placeholder((k, n), wl.dtype, name="W")
    bias = te.placeholder((n,), wl.dtype, name="bias") if len(wl.shapes) == 3 else None
    r = te.reduce_axis((0, k), name="k")
    y = te.compute((m, n), lambda i, j: te.sum(x[i, r] * w[r, j], axis=r), name=MATMUL)
    if bias is not None or wl["relu"]:
        def epilogue(i, j):
            value = y[i, j] + bias[j] if bias is not None else y[i, j]
            return te.max(value, te.const(0, wl.dtype)) if wl["relu"] else value
        y = te.compute((m, n), epilogue, name=EPILOGUE)
    return [t for t in (x, w, bias) if t is not None] + [y]
