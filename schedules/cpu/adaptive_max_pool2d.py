"""CPU schedule for ``adaptive_max_pool2d``: that of ``adaptive_avg_pool2d`` without the
division."""

from .adaptive_avg_pool2d import schedule_adaptive

__all__ = ["schedule"]


def schedule(sch, wl, target):
    schedule_adaptive(sch, wl, target)
