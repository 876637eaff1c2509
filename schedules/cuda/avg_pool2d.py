"""CUDA schedule for ``avg_pool2d``: one output per thread, its window (unrolled when small)
accumulated in a register, the padding inlined into the reads
(:func:`~tvmprims.schedules.gpu_tiling.schedule_gpu_window_reduction`). Pooling reads
each input element about once per window holding it: memory-bound, coalesced along rows."""

from tvmprims.ops.avg_pool2d import AVERAGE, PAD, POOL

from ..gpu_tiling import schedule_gpu_window_reduction

__all__ = ["schedule"]


def schedule(sch, wl, target):
    schedule_gpu_window_reduction(sch, POOL, PAD, AVERAGE)
