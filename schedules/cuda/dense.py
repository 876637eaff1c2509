"""CUDA schedule for ``dense``: the shared-memory tiled GEMM of ``schedules/cuda/matmul.py``,
with bias and ReLU applied in each thread's write-back of its register tile."""

from ..gemm_tiling import schedule_gpu_gemm

__all__ = ["schedule"]


def schedule(sch, wl, target):
    (m, k), (_, n) = wl.shapes[:2]
    schedule_gpu_gemm(sch, "matmul", m, n, k, wl.dtype)
