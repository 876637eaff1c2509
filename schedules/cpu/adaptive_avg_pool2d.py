"""CPU schedule for ``adaptive_avg_pool2d``: the sliding-window schedule of the pools
(:func:`~tvmprims.schedules.common.schedule_sliding_window`) with the adaptive windows'
longest extent and stride, the division folded into the write-back."""

from tvmprims.ops._pool import AVERAGE, POOL
from tvmprims.ops.adaptive_avg_pool2d import adaptive_axis

from ..common import schedule_sliding_window, tile_shape, vector_lanes
from ..hardware import cpu_params

__all__ = ["schedule", "schedule_adaptive"]


def schedule_adaptive(sch, wl, target, epilogue=None):
    """The schedule of both adaptive pools."""
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
    schedule_adaptive(sch, wl, target, epilogue=AVERAGE)
