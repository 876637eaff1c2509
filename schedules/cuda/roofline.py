"""CUDA schedules of the roofline micro-kernels (:mod:`tvmprims.roofline.kernels`)."""

from tvmprims.roofline.kernels import FMA, TRIAD

__all__ = ["schedule_peak_fma", "schedule_stream_triad", "THREADS"]

#: Threads per block of both kernels.
THREADS = 256


def schedule_peak_fma(sch, chains):
    """Each thread owns ``chains`` outputs in registers, unrolled (independent FMA chains),
    and its ``chains`` inputs, loaded once; the taps are read by every thread of a warp at
    once (a broadcast)."""
    block = sch.get_sblock(FMA)
    write_back = sch.cache_write(block, 0, "local")
    inputs = sch.cache_read(block, 0, "local")
    i, k, r = sch.get_loops(block)
    bx, tx, c = sch.split(i, [None, THREADS, chains])
    sch.reorder(bx, tx, k, r, c)
    sch.bind(bx, "blockIdx.x")
    sch.bind(tx, "threadIdx.x")
    sch.reverse_compute_at(write_back, tx)
    sch.compute_at(inputs, tx)
    sch.unroll(c)
    sch.decompose_reduction(block, k)


def schedule_stream_triad(sch, per_thread=4):
    """``per_thread`` elements per thread, strided by the block so that every warp access is
    coalesced."""
    block = sch.get_sblock(TRIAD)
    (i,) = sch.get_loops(block)
    bx, j, tx = sch.split(i, [None, per_thread, THREADS])
    sch.reorder(bx, tx, j)
    sch.bind(bx, "blockIdx.x")
    sch.bind(tx, "threadIdx.x")
    sch.unroll(j)
