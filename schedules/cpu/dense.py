"""CPU schedule for ``dense``: the register-tiled GEMM of ``schedules/cpu/matmul.py``, with
bias and ReLU applied to each register tile as it is written back (no second pass)."""

from ..common import vector_lanes
from ..gemm_tiling import schedule_cpu_gemm

__all__ = ["schedule"]


def schedule(sch, wl, target):
    (m, k), (_, n) = wl.shapes[:2]
    schedule_cpu_gemm(sch, "matmul", vector_lanes(target, wl.dtype), m, n, k)
