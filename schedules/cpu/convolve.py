"""CPU schedule for ``convolve`` (1-D convolution, numpy semantics).

1. **Vectorisation over outputs**: 32 consecutive outputs (four AVX2 vectors:
   ``CpuParams.convolve_vectors``) are computed together: for each filter tap, one broadcast
   of ``v`` and four unaligned loads of the (padded) signal feed four FMAs. The outputs stay
   in registers across all taps.
2. **Loop partitioning**: the output length is rarely a multiple of 32 (``full`` mode of
   10000 * 1024 gives 11023), and a boundary predicate would scalarise the vector loop; the
   output loop is partitioned into whole blocks (vectorised) and a short scalar remainder.
3. **Parallelism** over output blocks.
4. The zero-padding stage is a separate vectorised pass (it is O(n), the convolution O(nm)).
"""

from tvmprims.ops.convolve import CONVOLVE, PAD

from ..common import find_block, partition_whole_tiles, vector_lanes, vectorize_innermost
from ..hardware import cpu_params

__all__ = ["schedule"]


def schedule(sch, wl, target):
    lanes = vector_lanes(target, wl.dtype)
    block = cpu_params(target).convolve_vectors * lanes
    (length,) = wl.output_shape
    pad = find_block(sch, PAD)
    if pad is not None:
        vectorize_innermost(sch, pad, lanes)
    main = sch.get_sblock(partition_whole_tiles(sch, CONVOLVE, length, block))
    i, j = sch.get_loops(main)[-2:]
    if length < block:  # tiny output: one vector of the whole length
        sch.reorder(j, i)
        sch.vectorize(i)
        sch.decompose_reduction(main, j)
        return
    io, ii = sch.split(i, [None, block])
    sch.reorder(io, j, ii)
    sch.parallel(io)
    sch.vectorize(ii)
    sch.decompose_reduction(main, j)
