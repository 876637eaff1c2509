"""CPU schedule for ``dense``: the register-tiled GEMM of ``schedules/cpu/matmul.py``, with
bias and ReLU applied to each register tile as it is written back (no second pass)."""

from tvmprims.ops.dense import MATMUL

from ..gemm_tiling import schedule_cpu_matmul

__all__ = ["schedule"]


def schedule(sch, wl, target):
    (m, k), (_, n) = wl.shapes[:2]
    schedule_cpu_matmul(sch, MATMUL, target, wl.dtype, m, n, k)
