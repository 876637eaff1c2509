"""CPU schedule for ``avg_pool2d``: that of ``max_pool2d`` (a sliding-window reduction),
the division by torch's divisor folded into each register tile's write-back."""

from tvmprims.ops.avg_pool2d import AVERAGE

from .max_pool2d import schedule_pool

__all__ = ["schedule"]


def schedule(sch, wl, target):
    schedule_pool(sch, wl, target, epilogue=AVERAGE)
