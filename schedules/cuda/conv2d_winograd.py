"""CUDA schedule for ``conv2d_winograd`` (F(m x m, 3 x 3), see :mod:`tvmprims.ops.conv2d_winograd`).

Every stage is a kernel with its loops bound to ``blockIdx.x``/``threadIdx.x``:

1. **Transforms, one thread per tile**: a thread transforms one alpha x alpha tile of one
   channel (input: tile p of channel c; filter: output channel o, input channel c; output:
   tile p of output channel o). The alpha x alpha loops are unrolled, so the coefficient
   selects fold to constants, and the row pass lives in registers (``local``, computed
   right where the thread consumes it). The zero padding is inlined into the input gather
   (one bounds test per loaded element, no padded copy in memory).
2. **Batched GEMM, shared-memory tiled**: ``M[xi, nu] = U[xi, nu] V[xi, nu]`` for the
   alpha^2 pairs, each a thread block per (xi, nu, output-channel tile, tile-column tile).
   A block is up to 16 x 16 threads, each accumulating a 4 x 4 register tile (``local``),
   tile columns interleaved (coalesced stores, conflict-free shared loads). The input
   channels are walked in chunks: per chunk the block stages ``U`` and ``V`` tiles in
   shared memory (cooperative, coalesced fetches), then every thread runs the chunk from
   shared memory. Partial tiles compute garbage that is never stored (guarded write-back,
   see :func:`tvmprims.schedules.gpu_tiling.bind_spatial_tiles`).
3. **Crop and bias** in one element-wise kernel.
"""

from tvmprims.ops.conv2d_winograd import (BATCH_GEMM, BIAS_ADD, CROP, INPUT_COLUMNS, INPUT_ROWS,
                                          INPUT_TRANSFORM, OUTPUT_COLUMNS, OUTPUT_ROWS,
                                          OUTPUT_TRANSFORM, PAD, WEIGHT_ROWS, WEIGHT_TRANSFORM,
                                          tiling)

from ..common import find_block, split_factor
from ..gpu_tiling import (axis_tile, bind_spatial_tiles, cooperative_fetch, finish_gpu_reduction,
                          shrink_to_fill, threads_per_block)
from ..hardware import DEFAULT_GPU, gpu_model

__all__ = ["schedule", "gemm_tiles", "schedule_weight_transform", "THREADS"]

#: Threads per block of the element-wise and transform kernels.
THREADS = 128
#: GEMM: threads per block along output channels and tiles, outputs per thread, channel chunk.
GEMM_THREADS = (16, 16)
GEMM_PER_THREAD = (4, 4)
C_CHUNK = 16


def gemm_tiles(alpha, o, tiles, c, gpu=None):
    """``(tile_o, tile_p, chunk)``: :class:`AxisTile` for output channels and Winograd tiles
    (interleaved), and the input-channel chunk (a divisor of C), for the
    :class:`~tvmprims.schedules.hardware.GpuModel` ``gpu`` (default: ``sm_90``'s)."""
    gpu = gpu or DEFAULT_GPU
    to = axis_tile(o, GEMM_THREADS[0], GEMM_PER_THREAD[0])
    tp = axis_tile(tiles, GEMM_THREADS[1], GEMM_PER_THREAD[1], interleaved=True)
    block = GEMM_THREADS[0] * GEMM_THREADS[1]
    if tp.threads < GEMM_THREADS[1]:  # few tiles: the threads go to the channels
        to = axis_tile(o, block // tp.threads, GEMM_PER_THREAD[0])
    elif to.threads < GEMM_THREADS[0]:
        tp = axis_tile(tiles, block // to.threads, GEMM_PER_THREAD[1], interleaved=True)
    _, _, to, tp = shrink_to_fill((alpha, alpha, o, tiles), (None, None, to, tp),
                                  gpu.min_blocks)
    chunk = c if c <= C_CHUNK else split_factor(c, C_CHUNK, minimum=1)
    while c % chunk:
        chunk -= 1
    return to, tp, chunk


def _bind_flat(sch, block, loops):
    """Fuse ``loops`` and spread them over blocks of :data:`THREADS` threads; returns the
    thread loop."""
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    bx, tx = sch.split(fused, [None, THREADS])
    sch.bind(bx, "blockIdx.x")
    sch.bind(tx, "threadIdx.x")
    return tx


def _per_thread_transform(sch, name, rows_name, spatial, unrolled):
    """A transform stage with one thread per (``spatial`` loops), the ``unrolled`` loops in
    the thread, its row pass in registers computed at the thread."""
    block = sch.get_sblock(name)
    loops = sch.get_loops(block)
    sch.reorder(*[loops[i] for i in spatial], *[loops[i] for i in unrolled])
    thread = _bind_flat(sch, block, [loops[i] for i in spatial])
    for i in unrolled:
        sch.unroll(loops[i])
    rows = sch.get_sblock(rows_name)
    sch.compute_at(rows, thread, preserve_unit_loops=True)
    sch.set_scope(rows, 0, "local")
    for loop in sch.get_loops(rows)[-4:]:
        sch.unroll(loop)
    return rows


def schedule_weight_transform(sch):
    """U per (output channel, input channel): one thread transforms one 3x3 filter."""
    _per_thread_transform(sch, WEIGHT_TRANSFORM, WEIGHT_ROWS, (2, 3), (0, 1))


def schedule(sch, wl, target):
    (_, c, _, _) = wl.shapes[0]
    _, o, _, _ = wl.output_shape
    _, alpha, _, _, tiles = tiling(wl)
    if not wl["pretransformed"]:
        schedule_weight_transform(sch)
    # the tile-column stages only reorder elements: one thread per tile reads and writes them
    # in place
    for stage in (INPUT_COLUMNS, OUTPUT_COLUMNS):
        sch.compute_inline(sch.get_sblock(stage))
    pad = find_block(sch, PAD)
    if pad is not None:
        sch.compute_inline(pad)
    _per_thread_transform(sch, INPUT_TRANSFORM, INPUT_ROWS, (2, 3), (0, 1))

    tile_o, tile_p, chunk = gemm_tiles(alpha, o, tiles, c, gpu_model(target))
    write_back = sch.cache_write(sch.get_sblock(BATCH_GEMM), 0, "local")
    gemm = sch.get_sblock(BATCH_GEMM)
    tiling_ = bind_spatial_tiles(sch, gemm, [None, None, tile_o, tile_p], chunks=[chunk])
    threads = threads_per_block([tile_o, tile_p])
    # U and V are materialised by their own transform kernels: staged, not recomputed
    for read in (0, 1):
        cooperative_fetch(sch, gemm, read, tiling_.chunks[0], threads, inline_producers=False)
    sch.unroll(tiling_.reduction[0])
    finish_gpu_reduction(sch, gemm, write_back, tiling_)

    # output transform: one thread per (image, channel, tile row, tile column)
    _per_thread_transform(sch, OUTPUT_TRANSFORM, OUTPUT_ROWS, (0, 1, 2, 4), (3, 5))
    bias = find_block(sch, BIAS_ADD)
    if bias is not None:
        sch.reverse_compute_inline(bias)
    crop = sch.get_sblock(CROP)
    _bind_flat(sch, crop, sch.get_loops(crop))
