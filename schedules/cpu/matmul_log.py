"""CPU schedule for ``matmul_log`` (log-domain matrix product, exact or approximate).

1. **Log conversion fused into packing**: the sign and log stages of B are written directly in
   the GEMM's panel layout ``[n // ni, k, n % ni]`` (zero-padded to whole panels), in one
   parallel, vectorised pass; those of A are parallel, vectorised stages (rows padded to the
   register tile when needed).
2. **Register-tiled reduction** as ``schedules/cpu/matmul.py`` (shared code in
   ``schedules/gemm_tiling.py``): ``mi x ni`` outputs (two SIMD vectors wide) accumulate in
   registers over all of K; the sign and log of A are broadcast, those of B loaded as
   vectors, so ``exp2`` (exact) or the integer add / shift / exponent-field construction
   (approximate) run on whole vectors.
3. **Approximate method**: each tile loops over the ``2^bits`` remainder bins, one set of
   register accumulators per bin; the bins of a tile are then scaled by the constant table
   and summed right there (the combination is computed per tile, so the partial sums stay
   in cache; the table entry of a bin is hoisted out of its column loop), vectorised along
   the columns.
4. **Parallelism** over the fused tile loops.
"""

from tvmprims.ops.matmul_log import B_STAGES, LOG_TABLE, MATMUL_LOG, PARTIAL

from ..common import vector_lanes
from ..gemm_tiling import reads_named, schedule_cpu_gemm
from ..hardware import cpu_cores, cpu_params

__all__ = ["schedule"]


def schedule(sch, wl, target):
    (m, k), (_, n) = wl.shapes
    lanes = vector_lanes(target, wl.dtype)
    name = MATMUL_LOG if wl["bits"] is None else PARTIAL
    # The accumulators stay a workspace ("local"): as a stack array (CPU_REGISTER_SCOPE) the
    # exact kernel, which calls libm's exp2 per product, ran 1.6x slower.
    acc = schedule_cpu_gemm(sch, name, lanes, m, n, k, b_reads=reads_named(sch, name, B_STAGES),
                            scope="local", params=cpu_params(target), cores=cpu_cores(target))
    if wl["bits"] is None:
        return
    combine = sch.get_sblock(MATMUL_LOG)
    tile = sch.get_loops(acc)[0]
    # TVM places a consumer at a loop only when all its producers are under it: the table is
    # inlined (its entry for a bin is loop-invariant in the bin's column loop).
    sch.compute_inline(sch.get_sblock(LOG_TABLE))
    sch.reverse_compute_at(combine, tile, preserve_unit_loops=True)
    i, j, rem = sch.get_loops(combine)[1:]
    sch.reorder(rem, i, j)
    sch.vectorize(j)
    sch.decompose_reduction(combine, rem)
