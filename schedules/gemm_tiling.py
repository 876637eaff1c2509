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
all of ``k``, B operands packed in ``ni``-wide panels, padding to whole tiles. Plain
``matmul``/``dense`` blocks (:func:`schedule_cpu_matmul`) also have a few-rows path that reads
B in place (:func:`schedule_cpu_gemv`) and a cache-blocked path for a B too large for the
caches (:func:`schedule_cpu_blocked_gemm`); :func:`matmul_path` picks one.
CUDA (:func:`schedule_gpu_gemm`): shared-memory tiles and register accumulators; the
schedule of ``schedules/cuda/matmul.py``.
"""

from dataclasses import replace

import numpy as np

from tvmprims._tvm import PARTITION_PADDING, is_padded_name, partitioned_block_name

from .common import (CPU_REGISTER_SCOPE, accumulate_locally, divisor_at_most,
                     fuse_parallel, loop_extent, parallel_vectorized_stage, split_factor,
                     vectorize_innermost)
from .gpu_tiling import (axis_tile, bind_spatial_tiles, cooperative_fetch, finish_gpu_reduction,
                         shrink_to_fill, threads_per_block)
from .hardware import DEFAULT_GPU, CpuParams, cpu_cores, cpu_model, lanes_for

__all__ = ["cpu_tile_sizes", "PAD_ROWS_MIN_COLUMNS", "columns_outer", "schedule_cpu_gemm",
           "long_k_blocked", "LONG_K_BLOCKED_ROWS", "b_packing", "PANEL_PACKING_MAX_ROWS",
           "schedule_cpu_matmul", "matmul_path", "uses_gemv", "gemv_tiling", "gemv_k_parts",
           "gemv_column_unroll",
           "schedule_cpu_gemv",
           "schedule_cpu_blocked_gemm", "gemm_blocks", "busiest_core_work", "k_block",
           "ONE_PANEL_MAX_TILES_PER_CORE",
           "gemv_parallel",
           "gpu_tile_sizes", "schedule_gpu_gemm",
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


def _kept_a_stage(sch, stage, inline_a):
    """The stage computing a GEMM's A operand as the CPU GEMM schedules take it: with
    ``inline_a``, one that is not a padding stage (an index remap such as a reshaped weight)
    is inlined into the reduction, and None returned; else the stage, the one computing the
    operand inlined into it when it pads (:func:`_inline_producers`), for the caller to
    schedule."""
    if inline_a and not is_padded_name(sch.get(stage).name_hint):
        sch.compute_inline(stage)
        return None
    _inline_producers(sch, stage)
    return stage


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

#: Columns (N) from which :func:`cpu_tile_sizes` pads M to its full row count rather than
#: take fewer rows that divide M: padding M copies A (M x K), which N columns of work repay.
#: Measured on an Intel Xeon (AVX-512, 6 rows padded -> 4 rows, ms): 1x1 conv2d by im2col
#: 2048x7x7 -> 1024 (N = 49) 1.27 -> 0.79, 4096x576x31 0.74 -> 0.43; 512x28x28 -> 512
#: (N = 784) 1.24 -> 1.49 the other way.
PAD_ROWS_MIN_COLUMNS = 256


def cpu_tile_sizes(m, n, k, lanes, params=None):
    """``(mi, ni, ku)``: register tile rows and columns, K unroll: the GEMM tile of
    ``params`` (:class:`~tvmprims.schedules.hardware.CpuParams`, AVX2's by default), fewer
    rows when M is smaller, one vector of columns when N is, no unroll when it does not
    divide K. Below :data:`PAD_ROWS_MIN_COLUMNS` columns the rows are the most, from
    ``params.gemm_rows`` down to 4, that divide M (M is then not padded), if any does."""
    params = params or CpuParams()
    ku = params.gemm_k_unroll
    rows = params.gemm_rows
    if m % rows and n < PAD_ROWS_MIN_COLUMNS:
        rows = next((r for r in range(rows, min(rows, 4) - 1, -1) if m % r == 0), rows)
    return (min(m, rows), (params.gemm_vectors * lanes if n > lanes else lanes),
            (ku if k % ku == 0 else 1))


def schedule_cpu_gemm(sch, name, lanes, m, n, k, b_reads=(1,), batch=0, inline_a=False,
                      scope=CPU_REGISTER_SCOPE, params=None, cores=1):
    """Register-tiled CPU schedule of the GEMM block ``name`` (extents ``m x n x k``).

    1. ``pad_einsum`` rounds ``i`` and ``j`` up to the register tile.
    2. Tiles of ``mi x ni`` (two SIMD vectors wide) accumulate in registers over all of
       ``k`` (``accumulate_locally``); the batch and tile loops are fused and parallel, row
       tiles outside column panels or the other way round (:func:`columns_outer`);
       ``extra`` loops run inside a tile, each with its own accumulators.
    3. Every B operand (``b_reads``) is written in panels ``[..., j // ni, k, j % ni]`` so the
       micro-kernel reads it contiguously: a stage that computes or pads the operand writes
       the panels itself (a computed operand is inlined into its padding stage, so
       computing, padding and packing are one pass), an input argument gets a packing copy
       (``cache_read``). Where :func:`b_packing` says so, the packing runs inside the
       GEMM's parallel loop, right before the tiles that read it (one panel, one image's
       B, or all of B for each core): one parallel region instead of two, and the packed B
       is read from this core's caches, not memory.
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
    itemsize = sch.get(acc).writes[0].source.dtype.bits // 8
    packing = b_packing(sch, outer, m, n, k, mi, ni, cores, params, itemsize) if packs else "pass"
    io, ii = sch.split(i, [None, mi])
    jo, ji = sch.split(j, [None, ni])
    ko, ki = sch.split(kk, [None, ku])
    tiles = (jo, io) if columns_outer(m, n, k, params) else (io, jo)
    sch.reorder(*outer, *tiles, *extra, ko, ki, ii, ji)
    if packing == "pass":
        tile = pack_at = fuse_parallel(sch, [*outer, *tiles])
    elif packing == "core":
        rows = sch.fuse(*outer, io) if outer else io
        pack_at, _ = sch.split(rows, [cores, None])
        sch.parallel(pack_at)
    else:
        pack_at = fuse_parallel(sch, outer if packing == "image" else [*outer, tiles[0]])
    sch.vectorize(ji)
    sch.unroll(ii)
    sch.unroll(ki)
    sch.reverse_compute_at(write_back,
                           extra[-1] if extra else (tile if packing == "pass" else tiles[1]))
    vectorize_innermost(sch, write_back, lanes)
    inline_into_write_back(sch, write_back)

    for pack in packs:
        _pack_panels(sch, acc, pack, ni, lanes, at=None if packing == "pass" else pack_at)
    for stage in a_stages:
        if _kept_a_stage(sch, stage, inline_a) is not None:
            parallel_vectorized_stage(sch, stage, lanes)
    sch.decompose_reduction(acc, ko)
    return acc


#: Most rows M for which :func:`b_packing` packs B panel by panel inside the parallel loop
#: (column panels outermost). Measured on an Intel Xeon (two cores, im2col 1x1 kernels, us,
#: packing pass -> per panel; ``docs/panel_packing.py [--unbounded]``): M = 24 to 64
#: 1.18-1.32x faster (144x56x56 -> 24 98 -> 75, 256x56x56 -> 64 428 -> 334, 96x28x28 -> 40
#: 29.7 -> 25.3, 96x14x14 -> 40 10.3 -> 8.4 on 7 panels), M = 96 to 240 mostly slower
#: (40x28x28 -> 240 0.77-0.89x, 40x28x28 -> 128 0.92-0.97x, 960x14x14 -> 128 0.95x,
#: 64x28x28 -> 96 0.95-1.05x, 40x28x28 -> 192 0.76-1.29x over three processes).
PANEL_PACKING_MAX_ROWS = 64

def b_packing(sch, outer, m, n, k, mi, ni, cores, params=None, itemsize=4):
    """Where :func:`schedule_cpu_gemm` packs its B operands:

    - ``"panel"``: column panels outermost (:func:`columns_outer`), at most
      :data:`PANEL_PACKING_MAX_ROWS` rows (where packing is a large share of the work: each
      element of B serves M multiply-adds) and at least two panels per core over the
      ``outer`` batch loops: the parallel loop is over panels, each packed inside it;
    - ``"image"``: otherwise, at least as many images (extent of the ``outer`` loops) as
      ``cores``, shared evenly (a multiple of ``cores``, or four per core): the parallel loop
      is over images, each image's B packed inside it;
    - ``"core"``: row tiles outermost, one image, row tiles the cores share evenly (two per
      core at least) and a packed B (K x padded N) of at most ``params.gemm_in_l2_bytes``
      (half of L2, so that each core's copy stays in its L2): the row tiles are cut into one
      share per core and each core packs all of B for itself, before its share;
    - ``"pass"``: a parallel packing pass of its own, before the GEMM.

    Inside the loop, the packing pass no longer costs a parallel region of its own (about
    1.2 us) and the packed B is read from the caches of the core that wrote it. Measured on
    an Intel Xeon (two cores, 2 MiB L2 each; im2col 1x1 kernels, us, packing pass -> per
    core; ``docs/panel_packing.py``): 40x14x14 -> 240 18.4 -> 13.7, 288x7x7 -> 96 19.7 ->
    12.7, 232x7x7 -> 232 28.3 -> 22.6, 544x7x7 -> 128 41.3 -> 30.1, 2048x7x7 -> 128 130 ->
    111 (B of 512 KiB), 1024x14x14 -> 256 398 -> 382 (896 KiB). Beyond half of L2 the gain
    falls to 1-5% (``--unbounded``: 512x28x28 -> 512, B 1.6 MiB, 1.03x; 256x56x56 -> 512,
    3.1 MiB, 1.01x; 2048x14x14 -> 512 1.05x) while every core holds a copy of B: not worth
    twice the memory. Per image: 8x232x7x7 -> 232 170 -> 163, and with
    column panels outermost 8x40x28x28 -> 240 479 -> 387, 8x40x28x28 -> 192 368 -> 250,
    8x32x28x28 -> 192 375 -> 206, 4x40x28x28 -> 240 1.02x, 8x64x56x56 -> 192 and
    8x32x112x112 -> 96 0.98x."""
    images = 1
    for loop in outer:
        images *= loop_extent(sch, loop)
    panels = -(-n // ni)
    outer_columns = columns_outer(m, n, k, params)
    if outer_columns and m <= PANEL_PACKING_MAX_ROWS and images * panels >= 2 * cores:
        return "panel"
    if images > 1 and images >= cores and (images % cores == 0 or images >= 4 * cores):
        return "image"
    if outer_columns:
        return "pass"
    row_tiles = -(-m // mi)
    if (images == 1 and cores > 1 and row_tiles >= 2 * cores and row_tiles % cores == 0
            and k * panels * ni * itemsize <= (params or CpuParams()).gemm_in_l2_bytes):
        return "core"
    return "pass"


def columns_outer(m, n, k, params=None):
    """True when :func:`schedule_cpu_gemm` runs its tiles column panel by column panel
    (each packed B panel then serves every row tile from L1, and A is read again from L2 for
    each panel), False for row tiles outermost (each row tile sweeps all of packed B). Columns
    go outside when A is the smaller operand and all of it stays in L2: fewer than
    ``params.gemm_columns_outer_a_elements`` elements (the narrow 1x1 convolutions of
    MobileNets: 24 to 96 output channels over 196 to 3136 pixels)."""
    params = params or CpuParams()
    return m < n and m * k < params.gemm_columns_outer_a_elements


def gemv_parallel(m, n, k, itemsize, params=None):
    """Whether the few-rows path (:func:`schedule_cpu_gemv`) runs on several cores: when its
    floating-point operations (``2 m n k``) or the bytes of B reach half of L2
    (``params.gemm_in_l2_bytes``, as a count of each). Below, one core streams B from its L2
    in less time than the thread pool's regions (two with K split) cost. A fixed 2^18
    operations, measured on Zen 4, is what half of Zen 3's L2 gives, and is near Zen 4's
    (2^19). On an Intel Xeon (2 MiB L2, a faster core; kernel, one thread -> two, us):
    4x64x1024 4.80 -> 7.06, 2x128x1000 5.05 -> 7.21, 1x64x2048 3.71 -> 4.40, 4x128x1000
    8.17 -> 8.43, now one thread; 1x512x1000 (B 2 MB) 28.6 -> 11.2, 8x128x1000 21.3 -> 15.7,
    two; 1x256x1000 (B 1,024,000 bytes) 7.94 -> 6.77 and 8x64x1000 11.4 -> 10.6 fall just
    under the bound and lose that. Zen 4 (two threads better): 1x64x2048 5.40 -> 5.14,
    4x64x1024 7.90 -> 7.15, both at the bound; 1x128x1000 5.02 -> 4.46, under it."""
    params = params or CpuParams()
    return max(2 * m * n * k, k * n * itemsize) >= params.gemm_in_l2_bytes


def schedule_cpu_matmul(sch, name, target, dtype, m, n, k):
    """The CPU schedule of a plain GEMM block ``name`` (``matmul``, ``dense``: A and B
    function arguments, no batch), by :func:`matmul_path`: :func:`schedule_cpu_gemv`,
    :func:`schedule_cpu_gemm` or :func:`schedule_cpu_blocked_gemm`. Returns the path taken."""
    model = cpu_model(target)
    params, lanes = model.params, model.lanes(dtype)
    itemsize = np.dtype(dtype).itemsize
    path = matmul_path(m, n, k, itemsize, params)
    if path == "gemv":
        cores = cpu_cores(target) if gemv_parallel(m, n, k, itemsize, params) else 1
        schedule_cpu_gemv(sch, name, lanes, m, n, k, itemsize, cores, params)
    elif path == "blocked":
        schedule_cpu_blocked_gemm(sch, name, lanes, m, n, k, cpu_cores(target), params,
                                  itemsize)
    else:
        schedule_cpu_gemm(sch, name, lanes, m, n, k, params=params, cores=cpu_cores(target))
    return path


def matmul_path(m, n, k, itemsize, params=None):
    """The schedule :func:`schedule_cpu_matmul` takes: ``"gemv"`` for at most
    ``params.gemv_max_rows`` rows; ``"gemm"`` (:func:`schedule_cpu_gemm`: all of B packed
    first, register tiles over all of K) when B stays in cache while the tiles sweep it (at
    most ``params.gemm_in_l2_bytes``, or ``params.gemm_whole_b_bytes`` when K is within one K
    block) and K is not long for M (:func:`long_k_blocked`); else ``"blocked"``."""
    params = params or CpuParams()
    if uses_gemv(m, params):
        return "gemv"
    b_bytes = k * n * itemsize
    if b_bytes <= params.gemm_in_l2_bytes or (k <= params.gemm_k_block
                                               and b_bytes <= params.gemm_whole_b_bytes):
        return "blocked" if long_k_blocked(m, k, params) else "gemm"
    return "blocked"


#: Rows (least, most) for which :func:`long_k_blocked` K-blocks a GEMM whose B fits L2.
LONG_K_BLOCKED_ROWS = (64, 512)


def long_k_blocked(m, k, params=None):
    """Whether a GEMM whose B stays in L2 is K-blocked all the same
    (:func:`schedule_cpu_blocked_gemm`): K over two K blocks (``params.gemm_k_block``), so
    that a register tile's ``K x ni`` panel of B, read over all of K, would be streamed from
    L2 rather than L1, and M within :data:`LONG_K_BLOCKED_ROWS` (with more rows the
    unblocked path's one packing of B serves more tiles, and wins). Measured on an Intel
    Xeon (two threads, kernels, ms, unblocked -> blocked (numpy); ``PYTHONPATH=docs:. python
    docs/gemm_params.py SHAPES -- base gemm_k_block=2048``, a K block longer than K giving
    the unblocked path):
    256x1024x196 0.369 -> 0.297 (0.326), 512x1024x196 0.695 -> 0.612 (0.627), 128x1152x196
    0.240 -> 0.178, 256x768x257 0.370 -> 0.285, 512x2048x100 0.842 -> 0.738 (0.719),
    64x1024x196 0.115 -> 0.092, 64x2048x100 0.151 -> 0.105, 72x2000x130 0.241 -> 0.137,
    128x1000x100 0.109 -> 0.089, 256x512x500 0.417 -> 0.362, 512x512x512 0.728 -> 0.719;
    the losses 384x576x400 0.459 -> 0.474, 480x640x300 0.499 -> 0.510, 96x600x400 0.133 ->
    0.139. More rows, unblocked: 1000x1024x196 1.18 (1.27 blocked), 768x576x400 0.88
    (0.95), 2048x512x196 1.30 (1.42). Fewer than 64 rows, unblocked (the columns-outer path
    packs B panel by panel there): 32 to 48 rows went either way, even with the blocked
    path's one-panel column blocks (:data:`ONE_PANEL_MAX_TILES_PER_CORE`): 32x1024x196
    0.073 -> 0.055, 40x1000x70 0.043 -> 0.033, 32x4096x64 0.097 -> 0.068, but 48x1000x100
    0.041 -> 0.053, 48x2000x100 0.082 -> 0.103, 32x2000x50 0.039 -> 0.049."""
    low, high = LONG_K_BLOCKED_ROWS
    return low <= m <= high and k > 2 * (params or CpuParams()).gemm_k_block


def uses_gemv(m, params=None):
    """True when :func:`schedule_cpu_matmul` takes the few-rows path for ``m`` rows."""
    return m <= (params or CpuParams()).gemv_max_rows


# --- CPU, blocked for the caches ---------------------------------------------------------------

#: Most row tiles per core for which the blocked GEMM's column blocks are one panel wide
#: (see :func:`gemm_blocks`).
ONE_PANEL_MAX_TILES_PER_CORE = 2

#: Least reduction of the busiest core's work (rows x columns of C, padding included) for
#: which the blocked GEMM takes a register tile of fewer rows (see :func:`gemm_blocks`).
BALANCE_MIN_GAIN = 0.02


def gemm_blocks(m, n, k, lanes, cores, params=None, itemsize=4, rows=None):
    """``(mi, ni, ku, kc, nc, row_blocks)`` of :func:`schedule_cpu_blocked_gemm`: the register
    tile (:func:`cpu_tile_sizes`), the K block ``kc`` (about ``params.gemm_k_block``, a
    multiple of ``ku`` cutting K evenly), the column block ``nc`` (a whole number of ``ni``
    panels, about ``params.gemm_n_block`` columns, dividing the padded N when a divisor is
    near; all of N when a ``kc`` x N block of B fits ``params.gemm_wide_block_bytes`` and
    there are four row tiles per core at least; one ``ni`` panel when there are at most two
    row tiles per core, so that the few tiles sharing a block read it from L1) and the
    number of row blocks, more than one
    when there are fewer column blocks than ``cores`` or a number the cores cannot share
    evenly (then ``cores``, with four row tiles per core at least: 1024x9216x257, nine
    column blocks, 41 -> 34 ms on Zen 4).

    The tile has the most rows (``gemm_accumulators // gemm_vectors``) unless fewer, down to
    two thirds of them, leave the busiest core :data:`BALANCE_MIN_GAIN` less of C to
    compute (:func:`busiest_core_work`: M padded to whole tiles, tiles the cores share
    unevenly). Xeon, ms, 12 rows -> the choice (numpy): 128x576x1000 (8 rows) 0.549 ->
    0.481 (0.463), 200x1000x1000 (10) 1.32 -> 1.19 (1.19), 256x2304x1000 (8) 3.63 -> 3.44
    (3.28), 512x4096x512 (8) 6.07 -> 5.71 (6.11); ten other shapes keep 12. One panel per
    column block for few row tiles (:data:`ONE_PANEL_MAX_TILES_PER_CORE`), ms, 64 columns
    -> 32 (numpy; ``PYTHONPATH=docs:. python docs/blocked_gemm_rows.py --panels
    48x4096x1000``): 48x4096x1000 1.62 -> 1.46 (1.51), 48x2304x500 0.478 -> 0.395 (0.473),
    24x2048x1000 0.479 -> 0.431 (0.570), 16x4096x1000 0.795 -> 0.731; 32x1024x4095 1.03 ->
    1.02; with more tiles 32 columns ran slower (64x4096x4096 7.45 -> 8.33, 128x4096x4096
    13.9 -> 15.2). ``rows``: the tile's rows instead (at most; fewer when M is)."""
    params = params or CpuParams()
    if rows is not None:
        return _gemm_blocks(m, n, k, lanes, cores, params, itemsize, rows)
    most = params.gemm_accumulators // params.gemm_vectors
    best, best_work = None, None
    for rows in range(most, -(-2 * most // 3) - 1, -1):
        blocks = _gemm_blocks(m, n, k, lanes, cores, params, itemsize, rows)
        work = busiest_core_work(m, n, cores, blocks)
        if best is None or work < best_work * (1 - BALANCE_MIN_GAIN):
            best, best_work = blocks, work
    return best


def busiest_core_work(m, n, cores, blocks):
    """Elements of C (padding included) the busiest of ``cores`` computes under ``blocks``
    (:func:`gemm_blocks`' tuple): the ``row_blocks x column blocks`` parallel iterations
    are shared in whole ones, each ``ceil(row tiles / row_blocks)`` tiles of ``mi`` rows
    by ``nc`` columns."""
    mi, ni, _, _, nc, row_blocks = blocks
    col_blocks = -(-(-(-n // ni) * ni) // nc)
    per_core = -(-row_blocks * col_blocks // cores)
    return per_core * -(-(-(-m // mi)) // row_blocks) * mi * nc


def _gemm_blocks(m, n, k, lanes, cores, params, itemsize, rows):
    """:func:`gemm_blocks` for a register tile of (at most) ``rows`` rows."""
    mi, ni, _ = cpu_tile_sizes(m, n, k, lanes, replace(params, gemm_rows=rows))
    ku = min(params.gemm_k_unroll, k)  # K is padded to whole K blocks: any unroll fits
    kc = k_block(k, ku, params.gemm_k_block)
    panels = -(-n // ni)
    nc = ni * split_factor(panels, max(1, params.gemm_n_block // ni))
    row_tiles = -(-m // mi)
    if row_tiles <= ONE_PANEL_MAX_TILES_PER_CORE * cores:
        nc = ni  # few tiles share a block: one panel, which stays in L1
    if kc * panels * ni * itemsize <= params.gemm_wide_block_bytes and row_tiles >= 4 * cores:
        # One column block: A, read in place, is swept once instead of once per block.
        nc = panels * ni
    col_blocks = -(-panels * ni // nc)
    row_blocks = min(row_tiles, -(-cores // col_blocks))
    if col_blocks % cores and row_tiles >= 4 * cores:
        # Column blocks the cores cannot share evenly (N = 257: nine): rows split too.
        row_blocks = cores
    return mi, ni, ku, kc, nc, row_blocks


def k_block(k, ku, target):
    """The blocked GEMM's K block: the multiple of ``ku`` nearest ``target`` (the larger on a
    tie) among those that divide K, from half to twice ``target``; else K cut into
    ``ceil(K / target)`` even blocks, rounded up to ``ku`` (K then padded with zero rows)."""
    divisors = [c for c in range(ku, 2 * target + 1, ku) if k % c == 0 and 2 * c >= target]
    if divisors:
        return min(divisors, key=lambda c: (abs(c - target), -c))
    blocks = -(-k // target)
    per_block = -(-k // blocks)
    return -(-per_block // ku) * ku


def schedule_cpu_blocked_gemm(sch, name, lanes, m, n, k, cores, params=None, itemsize=4,
                              batch=0, inline_a=False):
    """Cache-blocked CPU schedule of the GEMM block ``name`` (``C[i, j] += A[i, k] * B[k, j]``,
    extents ``m x n x k``, after ``batch`` outer loops), for K of any length. A and B are
    function arguments or computed (the patch matrix of ``conv2d_im2col``: its stage then
    writes the packed blocks of B itself; with ``inline_a``, an A computed by a stage that is
    not padded, a reshaped weight, is read in place).

    1. ``pad_einsum`` rounds M and N up to the register tile ``mi x ni`` and K up to whole
       K blocks of ``kc`` (:func:`gemm_blocks`; none when ``kc`` divides K, else fewer
       zero rows than ``ku`` per block, in the copy of A and the packing of B). A K block
       cut short would put a bound check on every multiply-add of the micro-kernel: on an
       Intel Xeon (AVX-512, two threads) 1008x1000x1024 ran 18.7 ms with it, 1024^3 7.4 ms.
       The copy of A that padding makes is laid out in ``mi``-row panels (``[M / mi, K,
       mi]``), so that a tile's broadcasts read one contiguous stream, not ``mi`` rows a
       row's length apart: when that length is a multiple of 4 KiB they all fall in one set
       of L1 (Xeon, ms, rows -> panels (numpy): 1024^3 6.89 -> 6.25 (5.79), 2048x1024x1000
       15.2 -> 13.0 (10.8), 1000x4096x1000 26.4 -> 25.0 (22.1), 1024x9216x257 18.2 -> 16.8
       (14.8); other lengths within 1%).
    2. C is cut into blocks of ``nc`` columns (and, when those are fewer than the cores,
       rows), parallel. Within a block, K is swept in blocks of ``kc``: the ``kc x nc`` block
       of B is packed into ``ni``-wide panels right before use (so it is read from memory
       once and packed into L2, not written out whole), then every ``mi x ni`` register tile
       of the block accumulates over those ``kc`` steps; C accumulates across K blocks.
    3. The micro-kernel is :func:`schedule_cpu_gemm`'s: ``ni`` vectorised, ``mi`` rows and
       ``ku`` steps of K unrolled.
    4. The copy out of the padded C and element-wise consumers (bias, ReLU) run per block,
       right after it is complete, while it is still in cache.
    5. With N not a multiple of ``ni``, the packing is annotated ``PARTITION_PADDING``
       (:func:`tvmprims._tvm.compile_module`), so that its vector loops run without the
       zero-padding condition wherever the columns are whole.
    """
    mi, ni, ku, kc, nc, row_blocks = gemm_blocks(m, n, k, lanes, cores, params, itemsize)
    block = sch.get_sblock(name)
    sch.pad_einsum(block, [1] * batch + [mi, ni, kc])
    pack = producer_of_read(sch, block, 1)
    if pack is None:
        pack = sch.cache_read(block, 1, "global")
    else:
        _inline_producers(sch, pack)
    a_pad = producer_of_read(sch, block, 0)
    if a_pad is not None:
        a_pad = _kept_a_stage(sch, a_pad, inline_a)
    if a_pad is not None:
        sch.transform_layout(block, ("read", 0),
                             lambda *idx: (*idx[:-2], idx[-2] // mi, idx[-1], idx[-2] % mi))
    *outer, i, j, kk = sch.get_loops(block)
    io, it, ii = sch.split(i, [row_blocks, None, mi])
    jc, jt, ji = sch.split(j, [None, nc // ni, ni])
    ko, kin, ki = sch.split(kk, [None, kc // ku, ku])
    sch.reorder(*outer, io, jc, ko, jt, it, kin, ki, ii, ji)
    tile_block = fuse_parallel(sch, [*outer, io, jc])
    sch.vectorize(ji)
    sch.unroll(ii)
    sch.unroll(ki)
    _pack_panels(sch, block, pack, ni, lanes)
    sch.compute_at(pack, ko)
    vectorize_innermost(sch, pack, lanes)
    if n % ni:
        # The zero columns past N: a condition that varies across the vector lanes, which
        # TVM's vectoriser can only scalarise; compiled, the loops are cut where it starts.
        sch.annotate(pack, PARTITION_PADDING, 1)
    if a_pad is not None:
        _copy_row_panels(sch, a_pad, mi)
    consumers = sch.get_consumers(block)
    if consumers:
        write_back = consumers[0]
        sch.reverse_compute_at(write_back, tile_block)
        inline_into_write_back(sch, write_back)
        vectorize_innermost(sch, write_back, lanes)
    sch.decompose_reduction(block, ko)


def _copy_row_panels(sch, copy, mi):
    """Schedule ``copy`` (of A into ``mi``-row panels, ``[M / mi, K, mi]``), parallel over
    panels: each step reads one column of ``mi`` rows (unrolled) and writes them
    contiguously."""
    *outer, rows, cols = sch.get_loops(copy)
    panel, row = sch.split(rows, [None, mi])
    sch.reorder(*outer, panel, cols, row)
    fuse_parallel(sch, [*outer, panel])
    sch.unroll(row)


# --- CPU, few rows: a GEMV over rows of B -------------------------------------------------------

def gemv_tiling(m, n, k, lanes, itemsize, cores, params=None):
    """``(k_parts, chunks, chunk_vectors, ku)`` of the few-rows schedule
    (:func:`schedule_cpu_gemv`).

    ``k_parts``: the parts K is split into, one per core (:func:`gemv_k_parts`; 1: no split).
    The ``N // lanes`` whole vectors of columns are cut into ``chunks`` chunks of
    ``chunk_vectors`` vectors, few enough that a chunk's ``m`` rows of results stay in cache
    (``params.gemv_result_bytes``); without a split of K the chunks are also what the cores
    share, so there are a multiple of ``cores`` of them. K (or each part of it) is unrolled
    by ``ku``, a divisor of at most ``params.gemv_k_unroll`` (B rows read at once)."""
    params = params or CpuParams()
    k_parts = gemv_k_parts(n, k, lanes, cores, params)
    n_vectors = n // lanes
    per_chunk = max(1, params.gemv_result_bytes // (m * lanes * itemsize))
    chunks = max(1, -(-n_vectors // per_chunk))
    if k_parts == 1:
        chunks = -(-chunks // cores) * cores if n_vectors >= cores else max(1, n_vectors)
    chunk_vectors = max(1, -(-n_vectors // chunks))
    return (k_parts, -(-n_vectors // chunk_vectors), chunk_vectors,
            divisor_at_most(k // k_parts, params.gemv_k_unroll))


def gemv_column_unroll(m, chunk_vectors, params=None):
    """Vectors of columns the few-rows schedule multiplies per step (:func:`schedule_cpu_gemv`):
    ``m`` rows of results each, so that ``params.fma_chains`` sums are in flight at once,
    two at least (a broadcast of A then feeds two FMAs), within two thirds of
    ``params.gemm_accumulators``; a divisor of ``chunk_vectors``. Xeon, kernel us, one vector
    a step -> this (numpy): 2x64x1000 3.27 -> 3.03 (3.94), 4x64x1000 5.38 -> 4.95 (4.71),
    8x64x1000 11.1 -> 9.4 (7.5), 2x512x1152 18.0 -> 15.4 (84), 8x256x1152 29.0 -> 24.5
    (46.0); one row unchanged; 32 sums (4 rows x 8 vectors, 8 x 4) spill: 1.3-1.5x slower
    (``docs/gemv_column_steps.py``)."""
    params = params or CpuParams()
    wanted = max(2, -(-params.fma_chains // m))
    budget = params.gemm_accumulators * 2 // 3 // m
    return divisor_at_most(chunk_vectors, max(1, min(wanted, budget)))


def gemv_k_parts(n, k, lanes, cores, params=None):
    """Parts the few-rows schedule splits K into: ``cores`` when ``params.gemv_split_k``, there
    are several cores, at least one whole vector of columns, and ``cores`` divides K; else 1
    (the cores share the columns instead)."""
    params = params or CpuParams()
    if params.gemv_split_k and cores > 1 and n >= lanes and k % cores == 0:
        return cores
    return 1


def schedule_cpu_gemv(sch, name, lanes, m, n, k, itemsize, cores, params=None):
    """Few-rows CPU schedule of the GEMM block ``name`` (``C[i, j] += A[i, k] * B[k, j]``,
    extents ``m x n x k``, A and B function arguments): B is read once, in place, row by row.

    Nothing is padded or packed (either would copy all of B, as much memory traffic as the
    product itself when M is small). The whole vectors of columns are cut into chunks
    (:func:`gemv_tiling`); for each chunk, ``ku`` rows of B at a time are swept left to
    right, contiguous loads, a few vectors a step (:func:`gemv_column_unroll`), each B
    vector multiplied by every row of A (unrolled) and added into the chunk's rows of the
    result, which stay in L1. The last ``N % lanes`` columns
    (``loop_partition``) are a scalar loop. Element-wise consumers (bias, ReLU) are a
    parallel vectorised pass after it.

    Split K (``k_parts > 1``, :func:`gemv_k_parts`: several cores): K is cut into one part per
    core (``rfactor``), parallel; each core accumulates its part of K, for all columns, into its
    own partial result ``C_rf[part, i, j]`` (``k_parts x m x N`` elements: small, M is), whose
    rows start on a cache line (``storage_align``), and a parallel vectorised pass sums the
    parts into C. No cache line is written by two cores while B is swept. Splitting the
    columns among the cores instead, each accumulating in C in place, wrote the cache lines at
    the chunk borders from both cores on every sweep of K when C's rows are not a whole number
    of lines (N = 1000 floats): 8x4096x1000 ran slower on two threads than on one. Measured on
    Zen 4, 2 cores, kernel, columns split -> K split, two threads (one thread): 8x4096x1000
    0.92 -> 0.48 ms (0.84 -> 0.83), 1x4096x1000 0.15 -> 0.10 (0.28 -> 0.25), 8x1024x1000
    0.15 -> 0.12; K x N = 4096x4096 -13% to +2%, 9216x4096 3-10% slower on two threads (not
    understood; perhaps the cores streaming B from rows far apart); one thread -12% to +16%
    (4x1024x1000 slowest). The last ``N % lanes`` columns are split the same way,
    inside the parallel loop. Without the split (one core, K not a multiple of the cores, no
    whole vector of columns), the chunks are parallel and C accumulates in place: there is
    no workspace. With ``cores == 1`` (:func:`schedule_cpu_matmul` passes it when
    :func:`gemv_parallel` says so) nothing is parallel.
    """
    k_parts, chunks, chunk_vectors, ku = gemv_tiling(m, n, k, lanes, itemsize, cores, params)
    whole = n // lanes * lanes
    block = sch.get_sblock(name)
    for consumer in sch.get_consumers(block):
        parallel_vectorized_stage(sch, consumer, lanes, parallel_loops=int(cores > 1))
    i, j, _ = sch.get_loops(block)
    sch.reorder(j, i)  # j outermost, so that partitioning it leaves (j, i, k) to each part
    if whole == 0:
        _gemv_tail(sch, block)
        return
    if k_parts > 1:
        block = _split_k(sch, block, k_parts, whole < n, lanes, itemsize, params or CpuParams())
    elif whole < n:
        block = _partition_tail(sch, block, j, whole)
    *outer, j, i, kk = sch.get_loops(block)
    unroll = gemv_column_unroll(m, chunk_vectors, params)
    jo, jv, ju, jl = sch.split(j, [chunks, chunk_vectors // unroll, unroll, lanes])
    ko, ki = sch.split(kk, [None, ku])
    sch.reorder(*outer, jo, ko, jv, ki, i, ju, jl)
    if k_parts == 1 and cores > 1:
        sch.parallel(jo)
    sch.vectorize(jl)
    sch.unroll(ju)
    sch.unroll(i)
    sch.unroll(ki)
    sch.decompose_reduction(block, ko)


def _partition_tail(sch, block, j, whole):
    """Cut the GEMV block's column loop ``j`` at ``whole`` (``loop_partition``), schedule the
    last columns with :func:`_gemv_tail`; returns the block of the whole vectors."""
    name, var = sch.get(block).name_hint, sch.get(j).loop_var.name
    sch.loop_partition(j, [whole, None])
    _gemv_tail(sch, sch.get_sblock(partitioned_block_name(name, var, 1)))
    return sch.get_sblock(partitioned_block_name(name, var, 0))


def _split_k(sch, block, parts, tail, lanes, itemsize, params):
    """Split the reduction of the GEMV block ``block`` (loops ``j, i, k``) into ``parts`` parts
    of K (``rfactor``), parallel: returns the block accumulating the whole vectors of columns
    of the partial results, loops ``(part,) j, i, k`` (``part`` outside the block's scope
    after a partition). With a ``tail`` (``N % lanes`` columns), its
    partial results are accumulated in the same parallel loop over the parts
    (:func:`_gemv_tail`). The block summing the parts into C is scheduled here (parallel over
    rows and vectors of columns, the parts unrolled; the tail's columns scalar)."""
    j, i, kk = sch.get_loops(block)
    whole = loop_extent(sch, j) // lanes * lanes
    part, kk = sch.split(kk, [parts, None])
    partial = sch.rfactor(part, factor_axis=0)
    line = max(1, params.cache_line_bytes // itemsize)
    sch.storage_align(partial, 0, axis=1, factor=line, offset=0)
    j, i, part, kk = sch.get_loops(partial)
    sch.reorder(part, j, i, kk)
    sch.parallel(part)
    total = sch.get_consumers(partial)[0]
    if tail:
        partial = _partition_tail(sch, partial, j, whole)
        j, i, part = sch.get_loops(total)
        total = _partition_sum_tail(sch, total, j, whole)
    j, i, part = sch.get_loops(total)
    jo, jl = sch.split(j, [None, lanes])
    sch.reorder(i, jo, part, jl)
    fuse_parallel(sch, [i, jo])
    sch.unroll(part)
    sch.vectorize(jl)
    sch.decompose_reduction(total, part)
    return partial


def _partition_sum_tail(sch, total, j, whole):
    """Cut the column loop of the block summing the parts at ``whole``; the last columns are a
    scalar loop. Returns the block of the whole vectors."""
    name, var = sch.get(total).name_hint, sch.get(j).loop_var.name
    sch.loop_partition(j, [whole, None])
    last = sch.get_sblock(partitioned_block_name(name, var, 1))
    j, i, part = sch.get_loops(last)
    sch.reorder(i, j, part)
    sch.decompose_reduction(last, part)
    return sch.get_sblock(partitioned_block_name(name, var, 0))


def _gemv_tail(sch, block):
    """The last ``< lanes`` columns: for each row of A, one pass over K with the columns
    unrolled (their partial sums stay in registers). Loops ``(*outer, j, i, k)``."""
    *_, j, i, kk = sch.get_loops(block)
    sch.reorder(i, kk, j)
    sch.unroll(j)
    sch.decompose_reduction(block, kk)


def _pack_panels(sch, acc, pack, ni, lanes, at=None):
    """Lay out the buffer ``pack`` writes (a B operand of ``acc``) in ``ni``-wide panels and
    loop over it panel by panel: parallel over panels, contiguous vector stores; or, with
    ``at`` (a loop of the GEMM's, :func:`b_packing`), the part of B the iteration of ``at``
    reads (a panel, an image's B, all of B), panel by panel, inside that loop."""
    buffer = sch.get(pack).writes[0].source
    index = next(i for i, r in enumerate(sch.get(acc).reads) if r.source.same_as(buffer))
    sch.transform_layout(acc, ("read", index),
                         lambda *idx: (*idx[:-2], idx[-1] // ni, idx[-2], idx[-1] % ni))
    if at is None:
        *outer, kk, j = sch.get_loops(pack)
        jo, ji = sch.split(j, [None, ni])
        sch.reorder(*outer, jo, kk, ji)
        fuse_parallel(sch, [*outer, jo])
    else:
        sch.compute_at(pack, at)
        loops = sch.get_loops(pack)
        # The loops compute_at made below ``at`` (one of extent 1 may be left out).
        below = next(i for i, loop in enumerate(loops) if sch.get(loop).same_as(sch.get(at)))
        *rows, ji = loops[below + 1:]
        if loop_extent(sch, ji) > ni:
            jo, ji = sch.split(ji, [None, ni])
            sch.reorder(jo, *rows, ji)
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
