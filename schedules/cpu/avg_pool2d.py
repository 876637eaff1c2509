"""CPU schedule for ``avg_pool2d``: that of ``max_pool2d`` (a sliding-window reduction),
the division by torch's divisor folded into each register tile's write-back; a kernel that
is the whole image (no padding) is global pooling, scheduled as ``adaptive_avg_pool2d``'s
(:func:`~tvmprims.schedules.cpu.adaptive_avg_pool2d.schedule_global`)."""

from tvmprims.ops._pool import is_global
from tvmprims.ops.avg_pool2d import AVERAGE

from .adaptive_avg_pool2d import schedule_global
from .max_pool2d import schedule_pool

__all__ = ["schedule"]


def schedule(sch, wl, target):
    if is_global(wl):
        schedule_global(sch, wl, target, epilogue=AVERAGE)
    else:
        schedule_pool(sch, wl, target, epilogue=AVERAGE)
