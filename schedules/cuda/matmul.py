"""CUDA schedule for ``matmul`` (C = A @ B): classic shared-memory tiled GEMM.

1. **Block tiles**: C is cut into ``BM x BN`` tiles (64 x 64 for large matrices), one per
   thread block (``blockIdx.x``); a block is a 16 x 16 grid of threads (``threadIdx.x``).
   Small matrices get smaller tiles (``shrink_to_fill``) so that there are enough blocks to
   occupy the GPU; an axis shorter than a tile gets one thread per element and gives its
   share of the 256 threads to the other axis (M = 1: a block is a row of threads).
2. **Register tiles**: each thread accumulates a ``4 x 4`` tile of C in registers (``local``
   accumulator, unrolled loops) over all of K, and writes it to C once. Its rows are
   consecutive; its columns are 16 apart (interleaved, as virtual threads: see
   ``AxisTile``), so that the 16 threads of a row store 16 consecutive elements
   (coalesced) and read 16 consecutive words of the B tile (no shared-memory bank
   conflicts), while reads of the A tile are broadcasts.
3. **Shared-memory tiles, K in chunks**: K is walked in chunks of ``BK`` (16); per chunk the
   block copies ``A[BM, BK]`` and ``B[BK, BN]`` into shared memory, all threads fetching
   together (consecutive threads, consecutive addresses; B rows with vector loads), then
   each thread does ``4 x 4 x BK`` multiply-adds from shared memory. Each element fetched
   from global memory serves a whole row (A) or column (B) of the block tile, 64 outputs,
   and each value loaded from shared memory into a register serves 4 multiply-adds.
4. **Padding to whole tiles** (``pad_einsum``): M, N and K are rounded up to the tiles, so the
   inner loop never tests bounds, for any shape (1, primes, 127 x 131 x 13). The zero-fill
   of the padded operands is inlined into the shared-memory fetch (one bounds test per
   fetched element), and the padded rows and columns of C are never stored (the write-back
   is guarded).

Shared memory: ``(BM + BN) * BK`` elements: 8 KB (float32) or 16 KB (float64).

The tiling is shared with other GEMM-shaped operators: see ``schedules/gemm_tiling.py``.
"""

from ..gemm_tiling import GPU_K_CHUNK as K_CHUNK
from ..gemm_tiling import GPU_PER_THREAD as PER_THREAD
from ..gemm_tiling import GPU_THREADS as THREADS
from tvmprims.ops.matmul import MATMUL

from ..gemm_tiling import gpu_tile_sizes, schedule_gpu_gemm
from ..hardware import gpu_model

__all__ = ["schedule", "tile_sizes", "THREADS", "PER_THREAD", "K_CHUNK"]


def tile_sizes(m, n, k, gpu=None):
    """``(tile_m, tile_n, bk)``: :class:`AxisTile` for M (consecutive) and N (interleaved)
    and the K chunk (a divisor of K near 16 when there is one, else 16 with K padded), for
    the :class:`~tvmprims.schedules.hardware.GpuModel` ``gpu`` (default: ``sm_90``'s)."""
    return gpu_tile_sizes(m, n, k, gpu=gpu)


def schedule(sch, wl, target):
    (m, k), (_, n) = wl.shapes
    schedule_gpu_gemm(sch, MATMUL, m, n, k, wl.dtype, gpu=gpu_model(target))
