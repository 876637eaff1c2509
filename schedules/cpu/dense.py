"""CPU schedule for ``dense``: the GEMM paths of ``schedules/cpu/matmul.py``, with bias and
ReLU applied to each register tile as it is written back (``gemm``), to each block of C once
it is complete (``blocked``), or as a parallel vectorised pass after the product (``gemv``,
whose product reads B once: the pass touches only M x N outputs)."""

from tvmprims.ops.dense import MATMUL

from ..gemm_tiling import schedule_cpu_matmul

__all__ = ["schedule"]


def schedule(sch, wl, target):
    (m, k), (_, n) = wl.shapes[:2]
    schedule_cpu_matmul(sch, MATMUL, target, wl.dtype, m, n, k)
