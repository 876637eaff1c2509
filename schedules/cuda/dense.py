"""CUDA schedule for ``dense``: the shared-memory tiled GEMM of ``schedules/cuda/matmul.py``,
with bias and ReLU applied in each thread's write-back of its register tile."""

from tvmprims.ops.dense import MATMUL

from ..gemm_tiling import schedule_gpu_gemm
from ..hardware import gpu_model

__all__ = ["schedule"]


def schedule(sch, wl, target):
    (m, k), (_, n) = wl.shapes[:2]
    schedule_gpu_gemm(sch, MATMUL, m, n, k, wl.dtype, gpu=gpu_model(target))
