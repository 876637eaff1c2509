"""CPU schedule for ``adaptive_avg_pool2d``: global pooling (output 1 x 1) sums each plane's
H*W contiguous elements in vector partial sums
(:func:`~tvmprims.schedules.common.schedule_plane_sums`); other sizes take the sliding-window
schedule of the pools (:func:`~tvmprims.schedules.common.schedule_sliding_window`) with the
adaptive windows' longest extent and stride. The division is folded into the write-back."""

from tvmprims.ops._pool import AVERAGE, POOL, is_global
from tvmprims.ops.adaptive_avg_pool2d import adaptive_axis

from ..common import (plane_sum_lanes, schedule_plane_sums, schedule_sliding_window, tile_shape,
                      vector_lanes)
from ..hardware import cpu_cores, cpu_params

__all__ = ["schedule", "schedule_adaptive", "schedule_global"]


def schedule_global(sch, wl, target, epilogue=None):
    """The schedule of global average pooling (:func:`~tvmprims.ops._pool.is_global`
    workloads; ``epilogue`` the division): vectors of at most ``plane_sum_vector_bytes``,
    tiles of ``fma_chains`` channels, parallel from ``plane_sum_parallel_elements`` input
    elements on a target of several cores (:class:`~tvmprims.schedules.hardware.CpuParams`)."""
    params = cpu_params(target)
    n, c, h, w = wl.shapes[0]
    parallel = cpu_cores(target) > 1 and n * c * h * w >= params.plane_sum_parallel_elements
    schedule_plane_sums(sch, POOL, epilogue, plane_sum_lanes(target, wl.dtype),
                        params.fma_chains, parallel)


def schedule_adaptive(sch, wl, target, epilogue=None):
    """The sliding-window schedule of both adaptive pools (global max pooling included:
    ``rfactor`` only splits reductions TVM knows, and the NaN-propagating maximum is not
    one)."""
    lanes = vector_lanes(target, wl.dtype)
    _, _, h, w = wl.shapes[0]
    oh, ow = wl["output_size"]
    _, rows_vary, kh = adaptive_axis(h, oh)
    _, cols_vary, kw = adaptive_axis(w, ow)
    stride = max(1, w // ow) if cols_vary is None else 1
    rows, cols = tile_shape(oh, ow, kw, lanes, cpu_params(target))
    schedule_sliding_window(sch, POOL, None, stride, rows, cols, lanes, epilogue=epilogue,
                            unroll_rows=kh * kw <= 64)


def schedule(sch, wl, target):
    if is_global(wl):
        schedule_global(sch, wl, target, epilogue=AVERAGE)
    else:
        schedule_adaptive(sch, wl, target, epilogue=AVERAGE)
