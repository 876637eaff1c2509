"""CPU schedules of the roofline micro-kernels (:mod:`tvmprims.roofline.kernels`)."""

from tvmprims.roofline.kernels import FMA, TRIAD

from ..common import CPU_REGISTER_SCOPE

__all__ = ["schedule_peak_fma", "schedule_stream_triad"]

#: Triad elements per parallel task: large enough that a task outlasts its dispatch.
TRIAD_TASK = 4096


def schedule_peak_fma(sch, threads, chains, lanes):
    """One task per thread (``parallel`` when ``threads > 1``); inside it the ``chains`` x
    ``lanes`` accumulators stay in registers (``chains`` unrolled, ``lanes`` one SIMD
    register each) while the taps stream past."""
    block = sch.get_sblock(FMA)
    write_back = sch.cache_write(block, 0, CPU_REGISTER_SCOPE)
    i, k, r = sch.get_loops(block)
    t, c, lane = sch.split(i, [threads, chains, lanes])
    sch.reorder(t, k, r, c, lane)
    sch.reverse_compute_at(write_back, t)
    if threads > 1:
        sch.parallel(t)
    sch.unroll(c)
    sch.vectorize(lane)
    sch.decompose_reduction(block, k)


def schedule_stream_triad(sch, lanes, parallel):
    """SIMD ``lanes`` wide, unrolled 4 registers deep; ``parallel`` splits the array into
    :data:`TRIAD_TASK`-element tasks over all cores."""
    block = sch.get_sblock(TRIAD)
    (i,) = sch.get_loops(block)
    outer, unrolled, lane = sch.split(i, [None, 4, lanes])
    if parallel:
        tasks, outer = sch.split(outer, [None, max(1, TRIAD_TASK // (4 * lanes))])
        sch.parallel(tasks)
    sch.unroll(unrolled)
    sch.vectorize(lane)
