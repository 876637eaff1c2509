"""CPU schedule for ``matmul`` (C = A @ B).

1. **Padding to whole tiles** (``pad_einsum``): M and N are rounded up to the register tile,
   so awkward sizes (primes, 1) run the same vector code as round ones; the padded rows and
   columns are never written back.
2. **Register blocking**: C is cut into ``mi x ni`` tiles (``ni`` = two SIMD vectors); each
   tile accumulates in registers over all of K and is written once.
3. **Packing**: B is copied into panels ``Bp[n // ni, k, n % ni]`` so that the micro-kernel
   reads B contiguously (when N is padded, the padding stage writes the panels itself).
4. **Vectorisation and unrolling**: the ``ni`` loop becomes SIMD FMAs against a broadcast
   element of A; the ``mi`` rows and 4 steps of K are unrolled into independent FMAs.
5. **Parallelism**: the tile loops are fused and spread over the cores.

The tiling is shared with other GEMM-shaped operators: see ``schedules/gemm_tiling.py``.
"""

from tvmprims.ops.matmul import MATMUL

from ..gemm_tiling import cpu_tile_sizes as tile_sizes
from ..gemm_tiling import schedule_cpu_matmul

__all__ = ["schedule", "tile_sizes"]


def schedule(sch, wl, target):
    (m, k), (_, n) = wl.shapes
    schedule_cpu_matmul(sch, MATMUL, target, wl.dtype, m, n, k)
