"""CPU schedule for ``matmul`` (C = A @ B): one of three paths, by shape
(``gemm_tiling.matmul_path``; thresholds in ``schedules/hardware.py``, ``CpuParams``):

- **gemv** (M <= 8: batch-1 fully connected layers): B is read once, in place, row by row;
  nothing is padded or packed. Chunks of columns are parallel; for each, a few rows of B at
  a time are multiplied by every row of A into that chunk of C (kept in cache). The last
  ``N % lanes`` columns are a scalar loop.
- **gemm** (B within half of L2, or at most 4 MiB when K is within one K block, so it stays
  in cache): M and N padded to the register tile,
  all of B packed into ``ni``-wide panels, ``mi x ni`` register tiles accumulated over all of K
  and written once (the schedule of ``schedule_cpu_gemm``, shared with ``conv2d_im2col``).
- **blocked** (larger B, long K): columns of C in blocks, parallel (all of N in one block,
  the rows split among the cores, when a K block of B that wide fits half of L2: then A,
  read in place, is swept once); K swept in blocks of about 128 rows per 32 KiB of L1d
  (dividing K, else K padded to whole blocks), the ``kc x nc`` block of B packed right
  before use (read from memory once, packed into L2), every register tile of the block
  accumulating over it; the padded copy of C and any epilogue run per block. A padded
  copy of A is laid out in tile-row panels.

The register tiles come from the target's register file (``CpuParams.gemm_rows`` and
``gemm_accumulators``: 4 x 2 and 6 x 2 vectors on AVX2, 6 x 2 and 12 x 2 on AVX-512; the
blocked tile down to two thirds of those rows when the cores then share them more evenly),
the cache sizes from the host (``CpuCaches``). See ``schedules/gemm_tiling.py``.
"""

from tvmprims.ops.matmul import MATMUL

from ..gemm_tiling import cpu_tile_sizes as tile_sizes
from ..gemm_tiling import schedule_cpu_matmul

__all__ = ["schedule", "tile_sizes"]


def schedule(sch, wl, target):
    (m, k), (_, n) = wl.shapes
    schedule_cpu_matmul(sch, MATMUL, target, wl.dtype, m, n, k)
