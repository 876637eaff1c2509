"""CPU schedule for ``max_pool2d``: the sliding-window schedule of the depthwise
convolution (:func:`~tvmprims.schedules.common.schedule_sliding_window`): the -inf padding
built per (batch, channel) plane, as phase planes for a column stride > 1 (vector loads,
not gathers), register tiles of output columns (vectorised) and rows, the window unrolled,
parallel over (batch, channel)."""

from tvmprims.ops.max_pool2d import PAD, POOL

from ..common import schedule_sliding_window, tile_shape, vector_lanes
from ..hardware import cpu_params

__all__ = ["schedule", "schedule_pool"]


def schedule_pool(sch, wl, target, epilogue=None):
    """The pooling schedule shared by the pooling operators whose windows are regular
    (``kernel_size``/``stride`` parameters, or adaptive windows of one length)."""
    lanes = vector_lanes(target, wl.dtype)
    _, _, oh, ow = wl.output_shape
    kernel, stride = wl["kernel_size"], wl["stride"]
    rows, cols = tile_shape(oh, ow, kernel[1], lanes, cpu_params(target))
    schedule_sliding_window(sch, POOL, PAD, stride[1], rows, cols, lanes, epilogue=epilogue,
                            unroll_rows=kernel[0] * kernel[1] <= 64)


def schedule(sch, wl, target):
    schedule_pool(sch, wl, target)
