"""GEMM tiling shared by the hand schedules of every operator that is a matrix product at
heart: ``matmul``, ``conv2d_im2col`` (a GEMM per image and group) and ``matmul_log`` (a
matrix product whose multiply-add is computed in the log domain).

A *GEMM block* is a reduction block with one reduction loop ``k`` and spatial loops
``(*batch, i, j, *extra)``: ``i`` indexes the rows of the A operands (reads indexed
``[..., i, k]``), ``j`` the columns of the B operands (``[..., k, j]``), ``batch`` loops come
before them (images, groups), ``extra`` loops after them (the remainder bins of the
approximate log matmul). There may be several A and several B operands (sign and log of
each factor in ``matmul_log``); which reads are B operands is given by the caller.

CPU (:func:`schedule_cpu_gemm`): register tiles of ``mi x ni`` outputs accumulated over
all of ``k``, B operands packed in ``ni``-wide panels, padding to whole tiles; the schedule
of ``schedules/cpu/matmul.py``. CUDA (:func:`schedule_gpu_gemm`): shared-memory tiles and
register accumulators; the schedule of ``schedules/cuda/matmul.py``.
"""

from tvmprims._tvm import is_padded_name

from .common import (CPU_REGISTER_SCOPE, accumulate_locally, fuse_parallel, loop_extent,
                     parallel_vectorized_stage, split_factor, vectorize_innermost)
from .gpu_tiling import (axis_tile, bind_spatial_tiles, cooperative_fetch, finish_gpu_reduction,
                         shrink_to_fill, threads_per_block)
from .hardware import DEFAULT_GPU, CpuParams, lanes_for

__all__ = ["cpu_tile_sizes", "schedule_cpu_gemm", "gpu_tile_sizes", "schedule_gpu_gemm",
           "producer_of_read", "reads_named", "inline_into_write_back"]


# --- Helpers ------------------------------------------------------------------------------------

def producer_of_read(sch, block, read_index):
    """The block that writes the buffer ``block`` reads as its ``read_index``-th input, or
    None when that buffer is a function argument."""
    buffer = sch.get(block).reads[read_index].source
    for producer in sch.get_producers(block):
        if any(w.source.same_as(buffer) for w in sch.get(producer).writes):
            return producer
    return None


def reads_named(sch, name, buffers):
    """Read indices of the block ``name`` whose buffers are named in ``buffers`` (to tell
    the B operands of a block with several, e.g. ``B_sign`` and ``B_log``: a TE stage's
    buffer has the stage's name)."""
    reads = sch.get(sch.get_sblock(name)).reads
    return tuple(i for i, r in enumerate(reads) if r.source.name in buffers)


def _inline_producers(sch, block):
    """When ``block`` is a padding stage added by ``pad_einsum`` (``<buffer>_pad``), inline
    the stage that computes the operand into it, so that computing, padding and packing the
    operand is one pass."""
    if is_padded_name(sch.get(block).name_hint):
        for producer in sch.get_producers(block):
            sch.compute_inline(producer)


def inline_into_write_back(sch, write_back):
    """Fold the chain of element-wise consumers of ``write_back`` (the copy out of the padded
    result that ``pad_einsum`` adds, a reshape, a bias) into it, so the result is stored once.
    Stops at a reduction (the combination of the bins of ``matmul_log``).

    Must come after the write-back's ``reverse_compute_at``: TVM 0.27's reverse_compute_at
    drops the guard (``T.where``) that inlining the padding copy adds.

    The chain is folded from its end: each consumer into the one before it, and only the
    first (the padding copy, whose domain is the unpadded result) into the write-back.
    TVM 0.27's reverse_compute_inline replaces the write-back's guard with one derived from
    the inlined consumer's domain; folded the other way round, a reshape that merges a
    padded axis with an outer one (grouped im2col: channel ``g * O/G + f``) turned the guard
    ``f < O/G`` into ``g * O/G + f < O``, and padding rows of one group overwrote the next
    group's channels.
    """
    chain = []
    block = write_back
    while True:
        consumers = sch.get_consumers(block)
        if not consumers or _is_reduction(sch, consumers[0]):
            break
        block = consumers[0]
        chain.append(block)
    for consumer in reversed(chain):
        sch.reverse_compute_inline(consumer)


def _is_reduction(sch, block):
    return any(int(iv.iter_type) != 0 for iv in sch.get(block).iter_vars)  # 0: data parallel


def _loops(sch, block, batch):
    """``(batch_loops, i, j, extra_loops, k)`` of a GEMM block."""
    loops = sch.get_loops(block)
    return loops[:batch], loops[batch], loops[batch + 1], loops[batch + 2:-1], loops[-1]


# --- CPU ----------------------------------------------------------------------------------------

def cpu_tile_sizes(m, n, k, lanes, params=None):
    """``(mi, ni, ku)``: register tile rows and columns, K unroll: the GEMM tile of
    ``params`` (:class:`~tvmprims.schedules.hardware.CpuParams`, AVX2's by default), fewer
    rows when M is smaller, one vector of columns when N is, no unroll when it does not
    divide K."""
    params = params or CpuParams()
    ku = params.gemm_k_unroll
    return (min(m, params.gemm_rows), (params.gemm_vectors * lanes if n > lanes else lanes),
            (ku if k % ku == 0 else 1))


def schedule_cpu_gemm(sch, name, lanes, m, n, k, b_reads=(1,), batch=0, inline_a=False,
                      scope=CPU_REGISTER_SCOPE, params=None):
    """Register-tiled CPU schedule of the GEMM block ``name`` (extents ``m x n x k``).

    1. ``pad_einsum`` rounds ``i`` and ``j`` up to the register tile.
    2. Tiles of ``mi x ni`` (two SIMD vectors wide) accumulate in registers over all of
       ``k`` (``accumulate_locally``); the batch and tile loops are fused and parallel;
       ``extra`` loops run inside a tile, each with its own accumulators.
    3. Every B operand (``b_reads``) is written in panels ``[..., j // ni, k, j % ni]`` so the
       micro-kernel reads it contiguously: a stage that computes or pads the operand writes
       the panels itself (a computed operand is inlined into its padding stage, so
       computing, padding and packing are one pass), an input argument gets a packing copy
       (``cache_read``).
    4. The ``ni`` loop is vectorised, the ``mi`` rows and ``ku`` steps of ``k`` unrolled.
    5. Stages that compute or pad A operands are parallel and vectorised; with ``inline_a``
       an A operand computed by a stage that is not padded (an index remap such as a
       reshaped weight) is inlined into the reduction instead.
    6. Element-wise consumers of the result (padding copy, reshape, bias) are folded into the
       write-back of each tile.

    ``scope``: the accumulator's storage scope (see ``CPU_REGISTER_SCOPE``); ``params``: the
    target's :class:`~tvmprims.schedules.hardware.CpuParams` (its GEMM register tile).

    Returns the reduction block (its init already decomposed).
    """
    mi, ni, ku = cpu_tile_sizes(m, n, k, lanes, params)
    block = sch.get_sblock(name)
    n_spatial = len(sch.get_loops(block)) - 1
    sch.pad_einsum(block, [1] * batch + [mi, ni] + [1] * (n_spatial - batch - 2) + [1])
    write_back, acc = accumulate_locally(sch, name, scope)

    b_reads = set(b_reads)
    n_reads = len(sch.get(acc).reads)
    a_stages, packs = [], []
    for index in range(n_reads):
        producer = producer_of_read(sch, acc, index)
        if index in b_reads:
            if producer is None:
                if m <= mi:  # one row of tiles reads each panel once: packing is pure cost
                    continue
                packs.append(sch.cache_read(acc, index, "global"))
            else:
                _inline_producers(sch, producer)
                packs.append(producer)
        elif producer is not None:
            a_stages.append(producer)

    outer, i, j, extra, kk = _loops(sch, acc, batch)
    io, ii = sch.split(i, [None, mi])
    jo, ji = sch.split(j, [None, ni])
    ko, ki = sch.split(kk, [None, ku])
    sch.reorder(*outer, io, jo, *extra, ko, ki, ii, ji)
    tile = fuse_parallel(sch, [*outer, io, jo])
    sch.vectorize(ji)
    sch.unroll(ii)
    sch.unroll(ki)
    sch.reverse_compute_at(write_back, extra[-1] if extra else tile)
    vectorize_innermost(sch, write_back, lanes)
    inline_into_write_back(sch, write_back)

    for pack in packs:
        _pack_panels(sch, acc, pack, ni, lanes)
    for stage in a_stages:
        if inline_a and not is_padded_name(sch.get(stage).name_hint):
            sch.compute_inline(stage)
        else:
            _inline_producers(sch, stage)
            parallel_vectorized_stage(sch, stage, lanes)
    sch.decompose_reduction(acc, ko)
    return acc


def _pack_panels(sch, acc, pack, ni, lanes):
    """Lay out the buffer ``pack`` writes (a B operand of ``acc``) in ``ni``-wide panels and
    loop over it panel by panel: parallel over panels, contiguous vector stores."""
    buffer = sch.get(pack).writes[0].source
    index = next(i for i, r in enumerate(sch.get(acc).reads) if r.source.same_as(buffer))
    sch.transform_layout(acc, ("read", index),
                         lambda *idx: (*idx[:-2], idx[-1] // ni, idx[-2], idx[-1] % ni))
    *outer, kk, j = sch.get_loops(pack)
    jo, ji = sch.split(j, [None, ni])
    sch.reorder(*outer, jo, kk, ji)
    fuse_parallel(sch, [*outer, jo])
    if ni > lanes:
        _, ji = sch.split(ji, [None, lanes])
    sch.vectorize(ji)


# --- CUDA ---------------------------------------------------------------------------------------

#: Threads per block along M and N, outputs per thread along M and N, K chunk.
GPU_THREADS = (16, 16)
GPU_PER_THREAD = (4, 4)
GPU_K_CHUNK = 16


def gpu_tile_sizes(m, n, k, blocks_per_tile=1, gpu=None):
    """``(tile_m, tile_n, bk)``: :class:`AxisTile` for M (consecutive) and N (interleaved)
    and the K chunk (a divisor of K near 16 when there is one, else 16 with K padded).

    ``blocks_per_tile``: thread blocks per ``(m, n)`` tile position (batch and group count
    times extra axes), so that small GEMMs of a large batch keep their big tiles. ``gpu``:
    the target's :class:`~tvmprims.schedules.hardware.GpuModel` (default: ``sm_90``'s).
    """
    gpu = gpu or DEFAULT_GPU
    tm = axis_tile(m, GPU_THREADS[0], GPU_PER_THREAD[0])
    tn = axis_tile(n, GPU_THREADS[1], GPU_PER_THREAD[1], interleaved=True)
    block = GPU_THREADS[0] * GPU_THREADS[1]
    if tm.threads < GPU_THREADS[0]:  # few rows (a row vector): the threads go to the columns
        tn = axis_tile(n, block // tm.threads, GPU_PER_THREAD[1], interleaved=True)
    elif tn.threads < GPU_THREADS[1]:
        tm = axis_tile(m, block // tn.threads, GPU_PER_THREAD[0])
    _, tm, tn = shrink_to_fill((blocks_per_tile, m, n), (None, tm, tn), gpu.min_blocks)
    bk = k if k <= GPU_K_CHUNK else split_factor(k, GPU_K_CHUNK)
    return tm, tn, bk


def schedule_gpu_gemm(sch, name, m, n, k, dtype, b_reads=(1,), batch=0, gpu=None):
    """Shared-memory tiled CUDA schedule of the GEMM block ``name`` (see
    ``schedules/cuda/matmul.py`` for the design). Batch and extra loops get one index per
    thread block. Every operand is staged in shared memory per K chunk; an operand computed
    by a stage (a patch matrix, a log conversion) is computed inside that copy (the stage
    and the padding ``pad_einsum`` adds are inlined into it), so the kernel is one launch.
    ``gpu``: the target's :class:`~tvmprims.schedules.hardware.GpuModel`.
    Returns ``(write_back, reduction)``."""
    block = sch.get_sblock(name)
    loops = sch.get_loops(block)
    extents = [loop_extent(sch, loop) for loop in loops[:-1]]
    n_extra = len(extents) - batch - 2
    gpu = gpu or DEFAULT_GPU
    per_tile = 1
    for extent in extents[:batch] + extents[batch + 2:]:
        per_tile *= extent
    tm, tn, bk = gpu_tile_sizes(m, n, k, per_tile, gpu)
    sch.pad_einsum(block, [1] * batch + [tm.size, tn.size] + [1] * n_extra + [bk])
    write_back, acc = accumulate_locally(sch, name, "local")
    for producer in sch.get_producers(acc):  # computed operands into their padding stages
        _inline_producers(sch, producer)
    tiling = bind_spatial_tiles(sch, acc, [None] * batch + [tm, tn] + [None] * n_extra,
                                chunks=[bk])
    threads = threads_per_block([tm, tn])
    k_chunk = tiling.chunks[0]
    # B rows are tn.size wide: fetch them with vector loads (16 bytes) when they come in whole,
    # aligned vectors (N and the tile multiples of the vector, so every row starts aligned)
    # from an input argument (a computed operand is a gather, not a vector load).
    lanes = lanes_for(gpu.vector_load_bytes, dtype)
    aligned = n % lanes == 0 and tn.size % lanes == 0
    n_reads = len(sch.get(acc).reads)
    for index in range(n_reads):
        computed = producer_of_read(sch, acc, index) is not None
        vector = 1
        if index in b_reads and not computed and aligned and bk * tn.size >= threads * lanes:
            vector = lanes
        cooperative_fetch(sch, acc, index, k_chunk, threads, vector=vector)
    sch.unroll(tiling.reduction[0])
    finish_gpu_reduction(sch, acc, write_back, tiling)
    inline_into_write_back(sch, write_back)
    return write_back, acc
