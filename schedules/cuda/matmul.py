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
"""

from ..common import accumulate_locally, split_factor
from ..gpu_tiling import (axis_tile, bind_spatial_tiles, cooperative_fetch, finish_gpu_reduction,
                         shrink_to_fill, threads_per_block)

__all__ = ["schedule", "tile_sizes"]

#: Threads per block along M and N, outputs per thread along M and N, K chunk.
THREADS = (16, 16)
PER_THREAD = (4, 4)
K_CHUNK = 16


def tile_sizes(m, n, k):
    """``(tile_m, tile_n, bk)``: :class:`AxisTile` for M (consecutive) and N (interleaved)
    and the K chunk (a divisor of K near 16 when there is one, else 16 with K padded)."""
    tm = axis_tile(m, THREADS[0], PER_THREAD[0])
    tn = axis_tile(n, THREADS[1], PER_THREAD[1], interleaved=True)
    block = THREADS[0] * THREADS[1]
    if tm.threads < THREADS[0]:  # few rows (a row vector): the threads go to the columns
        tn = axis_tile(n, block // tm.threads, PER_THREAD[1], interleaved=True)
    elif tn.threads < THREADS[1]:
        tm = axis_tile(m, block // tn.threads, PER_THREAD[0])
    tm, tn = shrink_to_fill((m, n), (tm, tn))
    bk = k if k <= K_CHUNK else split_factor(k, K_CHUNK)
    return tm, tn, bk


def schedule(sch, wl, target):
    (m, k), (_, n) = wl.shapes
    tm, tn, bk = tile_sizes(m, n, k)
    sch.pad_einsum(sch.get_sblock("matmul"), [tm.size, tn.size, bk])
    write_back, acc = accumulate_locally(sch, "matmul", "local")
    tiling = bind_spatial_tiles(sch, acc, [tm, tn], chunks=[bk])
    threads = threads_per_block([tm, tn])
    k_chunk = tiling.chunks[0]
    # B rows are tn.size wide: fetch them with 16-byte vector loads when they come in whole,
    # aligned vectors (N and the tile multiples of the vector, so every row starts aligned).
    lanes = 4 if wl.dtype == "float32" else 2
    aligned = n % lanes == 0 and tn.size % lanes == 0
    b_vector = lanes if aligned and bk * tn.size >= threads * lanes else 1
    cooperative_fetch(sch, acc, 0, k_chunk, threads)
    cooperative_fetch(sch, acc, 1, k_chunk, threads, vector=b_vector)
    sch.unroll(tiling.reduction[0])
    finish_gpu_reduction(sch, acc, write_back, tiling)
    # pad_einsum computes into a padded C and copies the valid part out: fold that copy into
    # the write-back, which then stores only rows < M and columns < N. This must come after
    # the write-back's reverse_compute_at: TVM 0.27's reverse_compute_at drops the guard
    # (T.where) that the inlining adds, and the kernel would store the padding out of bounds.
    for block in sch.get_consumers(write_back):
        sch.reverse_compute_inline(block)

