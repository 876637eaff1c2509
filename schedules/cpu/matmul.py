"""CPU schedule for ``matmul`` (C = A @ B).

1. **Padding to whole tiles** (``pad_einsum``): M and N are rounded up to the register tile,
   so awkward sizes (primes, 1) run the same vector code as round ones; the padded rows and
   columns are never written back.
2. **Register blocking**: C is cut into ``mi x ni`` tiles (``ni`` = two SIMD vectors); each
   tile accumulates in registers over all of K and is written once.
3. **Packing**: B is copied into panels ``Bp[n // ni, k, n % ni]`` so that the micro-kernel
   reads B contiguously.
4. **Vectorisation and unrolling**: the ``ni`` loop becomes SIMD FMAs against a broadcast
   element of A; the ``mi`` rows and 4 steps of K are unrolled into independent FMAs.
5. **Parallelism**: the tile loops are fused and spread over the cores.
"""

from ..common import accumulate_locally, fuse_parallel, vector_lanes, vectorize_innermost

__all__ = ["schedule", "tile_sizes"]


def tile_sizes(m, n, k, lanes):
    """``(mi, ni, ku)``: register tile rows and columns, K unroll; measured best on AVX2."""
    return min(m, 4), (2 * lanes if n > lanes else lanes), (4 if k % 4 == 0 else 1)


def schedule(sch, wl, target):
    (m, k), (_, n) = wl.shapes
    lanes = vector_lanes(target, wl.dtype)
    mi, ni, ku = tile_sizes(m, n, k, lanes)
    sch.pad_einsum(sch.get_sblock("matmul"), [mi, ni, 1])
    write_back, acc = accumulate_locally(sch, "matmul")

    i, j, kk = sch.get_loops(acc)
    io, ii = sch.split(i, [None, mi])
    jo, ji = sch.split(j, [None, ni])
    ko, ki = sch.split(kk, [None, ku])
    sch.reorder(io, jo, ko, ki, ii, ji)
    tile = fuse_parallel(sch, [io, jo])
    sch.vectorize(ji)
    sch.unroll(ii)
    sch.unroll(ki)
    sch.reverse_compute_at(write_back, tile)
    vectorize_innermost(sch, write_back, lanes)

    pack = sch.cache_read(acc, 1, "global")
    sch.transform_layout(acc, ("read", 1), lambda kk, jj: (jj // ni, kk, jj % ni))
    fuse_parallel(sch, sch.get_loops(pack)[:2])
    vectorize_innermost(sch, pack, lanes)
    sch.decompose_reduction(acc, ko)
