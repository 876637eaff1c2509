"""2-D adaptive max pooling, NCHW, as ``torch.nn.functional.adaptive_max_pool2d`` (without
``return_indices``): the windows of :mod:`tvmprims.ops.adaptive_avg_pool2d`, maxima instead
of averages (NaN propagates, as in torch)."""

from ..workload import Workload
from ._pool import POOL, nan_max
from .adaptive_avg_pool2d import adaptive_compute, adaptive_output_size, output_shape

__all__ = ["workload", "compute", "output_shape", "flops", "POOL", "STAGES"]

#: Stage names: the window maxima.
STAGES = (POOL,)


def workload(x_shape, dtype="float32", output_size=1):
    """Validate shapes and parameters; return the adaptive_max_pool2d workload."""
    sizes = adaptive_output_size("adaptive_max_pool2d", x_shape, output_size)
    return Workload.make("adaptive_max_pool2d", (x_shape,), dtype, output_size=sizes)


def flops(wl):
    n, c, h, w = wl.shapes[0]
    return n * c * h * w  # a comparison per element (once per window holding it)


def compute(wl):
    x, pool, _ = adaptive_compute(wl, nan_max(), float("-inf"))
    return [x, pool]
