"""Tiling logic shared by the CUDA schedules.

The CUDA schedules share one structure. The output is cut into *block tiles*, one per thread
block; a block tile is a grid of threads, and each thread owns a small *thread tile* of
outputs that it accumulates in registers (``local``). The reduction is walked in *chunks*;
for each chunk the thread block copies the operand tiles it is about to reuse into
``shared`` memory, every thread fetching a slice (``cooperative_fetch``), then all threads
compute from shared memory. Loop order of the reduction block:

    blockIdx.x (fused block loops) / threadIdx.x (fused thread loops)
      / chunk loops (shared fetches here) / rest of the reduction / thread tile (unrolled)

The GPU's limits (multiprocessors, threads and shared memory per block) come from the
target's :class:`~tvmprims.schedules.hardware.GpuModel` (``gpu_model(target)``), which the
schedules pass down as ``gpu``; the functions here default to that of ``sm_90``.
"""

from collections import namedtuple

from tvmprims.ops.conv2d import CONV

from .common import accumulate_locally, divisor_at_most, loop_extent
from .hardware import DEFAULT_GPU

__all__ = [
    "GPU_MIN_BLOCKS",
    "SHARED_BUDGET",
    "MAX_THREADS",
    "ceil_div",
    "AxisTile",
    "axis_tile",
    "block_count",
    "threads_per_block",
    "shrink_to_fill",
    "window_extent",
    "reduction_chunk",
    "GpuTiling",
    "bind_spatial_tiles",
    "cooperative_fetch",
    "unroll_below",
    "finish_gpu_reduction",
    "divisors",
    "conv_shared_elements",
    "plan_conv_tiles",
    "schedule_direct_conv",
    "ELEMENTWISE_THREADS",
    "bind_flat",
    "schedule_gpu_window_reduction",
]




# The default target's (sm_90: H100, H200) limits, from its model; the schedules use their
# own target's (GpuModel.min_blocks, .shared_budget, .max_threads_per_block).
#: Thread blocks a launch should have at least: one per streaming multiprocessor (132).
GPU_MIN_BLOCKS = DEFAULT_GPU.min_blocks
#: Shared memory a thread block may use: 32 KB of the static 48 KB, which leaves room for two
#: or more resident blocks per multiprocessor.
SHARED_BUDGET = DEFAULT_GPU.shared_budget
#: CUDA's limit on threads per block (1024).
MAX_THREADS = DEFAULT_GPU.max_threads_per_block


def ceil_div(a, b):
    return -(-a // b)


class AxisTile(namedtuple("AxisTile", "threads per_thread interleaved")):
    """How one output axis is cut: ``threads`` threads per block, ``per_thread`` outputs each.

    ``interleaved=False``: a thread owns ``per_thread`` *consecutive* outputs (index =
    block * size + thread * per_thread + i). ``interleaved=True``: its outputs are
    ``threads`` apart (index = block * size + i * threads + thread), so that neighbouring
    threads touch neighbouring elements: coalesced global stores and conflict-free
    shared-memory loads along the fastest-varying axis. The ``i`` loop of an interleaved
    axis is a *virtual thread* (``vthread``): a per-thread loop outside ``threadIdx`` would
    make each thread's accumulator region a strided set, which TVM's region analysis covers
    with an interval, so the write-back would store other threads' (garbage) values;
    virtual threads are expanded by TVM into unrolled copies with exact regions.
    """

    @property
    def size(self):
        """Outputs of this axis per thread block."""
        return self.threads * self.per_thread


def axis_tile(extent, threads, per_thread, interleaved=False):
    """An :class:`AxisTile` for an axis of ``extent``, shrunk so that a block tile is not
    (much) larger than the axis: short axes get one thread per element."""
    if extent <= threads:
        return AxisTile(max(int(extent), 1), 1, interleaved)
    return AxisTile(threads, max(1, min(per_thread, ceil_div(extent, threads))), interleaved)


def block_count(extents, tiles):
    """Thread blocks of a launch: a ``None`` tile is an axis with one index per block."""
    count = 1
    for extent, tile in zip(extents, tiles):
        count *= extent if tile is None else ceil_div(extent, tile.size)
    return count


def threads_per_block(tiles):
    count = 1
    for tile in tiles:
        if tile is not None:
            count *= tile.threads
    return count


def shrink_to_fill(extents, tiles, min_blocks=GPU_MIN_BLOCKS, min_threads=64):
    """Make block tiles smaller until the launch has ``min_blocks`` blocks (small workloads
    would otherwise leave most multiprocessors idle): the target's ``GpuModel.min_blocks``.

    The largest per-thread factor is halved first (less register reuse, same threads per
    block), then the largest thread count, as long as a block keeps ``min_threads`` threads.
    """
    tiles = list(tiles)
    while block_count(extents, tiles) < min_blocks:
        axes = [i for i, t in enumerate(tiles) if t is not None and t.per_thread > 1]
        if axes:
            i = max(axes, key=lambda i: tiles[i].per_thread)
            tiles[i] = tiles[i]._replace(per_thread=tiles[i].per_thread // 2)
            continue
        total = threads_per_block(tiles)
        axes = [i for i, t in enumerate(tiles)
                if t is not None and t.threads > 1 and total // 2 >= min_threads]
        if not axes:
            break
        i = max(axes, key=lambda i: tiles[i].threads)
        tiles[i] = tiles[i]._replace(threads=ceil_div(tiles[i].threads, 2))
    return tiles


def window_extent(outputs, stride, kernel, dilation):
    """Input elements along an axis read by ``outputs`` consecutive outputs of a convolution."""
    return (outputs - 1) * stride + (kernel - 1) * dilation + 1


#: Loops of a reduction block after :func:`bind_spatial_tiles`.
GpuTiling = namedtuple("GpuTiling", "block thread chunks reduction inner")


def bind_spatial_tiles(sch, block, tiles, chunks=(), unroll_step=256):
    """Tile a reduction block for the GPU and bind its loops.

    ``tiles`` gives an :class:`AxisTile` (or ``None``: one index per thread block) for each
    spatial loop, outermost first; ``chunks`` a chunk size (or ``None``: whole) for each
    reduction loop. Every spatial loop is split into block, thread and per-thread parts;
    the block parts are fused and bound to ``blockIdx.x``, the thread parts to
    ``threadIdx.x``, per-thread parts of interleaved axes to ``vthread``. Loop order:
    block, virtual threads, thread, reduction chunks, rest of the reduction, thread tile.

    **Partial tiles.** Spatial splits that do not divide the extent are *not* guarded in the
    reduction (``disable_predication``): the threads of a partial tile that fall outside the
    output compute garbage from shared memory and are discarded, because the write-back
    (``finish_gpu_reduction``) and the shared-memory fetches are guarded against the
    buffer bounds. This keeps bounds tests out of the inner loop, and it is what lets TVM
    size the shared buffers: a guard that mentions ``blockIdx`` on the consumer makes
    ``CompactBufferAllocation`` fall back to nearly the whole buffer (a 12095-element
    "tile" for convolve 10000 * 1024, over the 48 KB limit). It is only correct when every
    operand of the reduction is read from shared (or local) memory staged by
    :func:`cooperative_fetch`, never straight from global memory. For the same reason,
    ``chunks`` must divide their reduction extents (see :func:`reduction_chunk`): a
    reduction guard cannot be dropped (it would add garbage to valid outputs) and it too
    defeats buffer compaction.

    The thread tile is unrolled (its accumulators then live in registers) and the block loop
    gets ``pragma_auto_unroll_max_step`` for the short reduction loops.

    Returns a :class:`GpuTiling` of loop handles ``(block, thread, chunks, reduction,
    inner)``: the chunk loops (where shared fetches go), the remaining reduction loops and
    the per-thread loops.
    """
    loops = sch.get_loops(block)
    spatial, reduction = loops[:len(tiles)], loops[len(tiles):]
    chunks = list(chunks) + [None] * (len(reduction) - len(chunks))
    outers, vthreads, threads, inners = [], [], [], []
    for loop, tile in zip(spatial, tiles):
        if tile is None:
            outers.append(loop)
            continue
        if tile.interleaved and tile.per_thread > 1:
            outer, inner, thread = sch.split(loop, [None, tile.per_thread, tile.threads],
                                            disable_predication=True)
            vthreads.append(inner)
        else:
            outer, thread, inner = sch.split(loop, [None, tile.threads, tile.per_thread],
                                            disable_predication=True)
            inners.append(inner)
        outers.append(outer)
        threads.append(thread)
    chunk_loops, rest = [], []
    for loop, chunk in zip(reduction, chunks):
        if chunk is None:
            rest.append(loop)
        else:
            extent = loop_extent(sch, loop)
            if extent % chunk:
                raise ValueError(f"reduction chunk {chunk} does not divide the extent {extent}")
            outer, inner = sch.split(loop, [None, chunk])
            chunk_loops.append(outer)
            rest.append(inner)
    sch.reorder(*outers, *vthreads, *threads, *chunk_loops, *rest, *inners)
    block_loop = sch.fuse(*outers) if len(outers) > 1 else outers[0]
    sch.bind(block_loop, "blockIdx.x")
    for loop, tag in zip(vthreads, ("vthread.x", "vthread.y", "vthread.z")):
        sch.bind(loop, tag)
    thread_loop = sch.fuse(*threads) if len(threads) > 1 else threads[0]
    sch.bind(thread_loop, "threadIdx.x")
    for loop in inners:
        sch.unroll(loop)
    if unroll_step:
        sch.annotate(block_loop, "pragma_auto_unroll_max_step", unroll_step)
        sch.annotate(block_loop, "pragma_unroll_explicit", 0)
    return GpuTiling(block_loop, thread_loop, chunk_loops, rest, inners)


def reduction_chunk(extent, preferred, limit):
    """A chunk size for a reduction axis that divides ``extent`` (see
    :func:`bind_spatial_tiles`): the largest divisor up to ``preferred`` when it is at least
    half of it, else the whole axis when it is at most ``limit`` (what fits in shared
    memory), else the largest divisor up to ``limit``."""
    limit = max(1, limit)
    best = divisor_at_most(extent, preferred)
    if best * 2 >= min(preferred, extent):
        return best
    if extent <= limit:
        return extent
    return divisor_at_most(extent, limit)


def _loop_depth(sch, block, loop):
    target = sch.get(loop)
    for depth, candidate in enumerate(sch.get_loops(block)):
        if sch.get(candidate).same_as(target):
            return depth
    raise ValueError("loop is not an ancestor of the block")


def cooperative_fetch(sch, consumer, read_index, at_loop, threads, scope="shared", vector=1,
                      inline_producers=True):
    """Stage input ``read_index`` of ``consumer`` in ``scope`` memory at ``at_loop``, each of
    the block's ``threads`` threads copying a slice; returns the copy block.

    The copy is placed (``compute_at``) so that it holds what the consumer reads inside
    ``at_loop``, for all threads of the block (TVM relaxes ``threadIdx`` loops for shared
    buffers). Its loops are fused and split over ``threadIdx.x``, so consecutive threads
    load consecutive elements (coalesced). A producer of the staged buffer (a zero-padding
    stage) is inlined into the copy: the bounds test runs once per fetched element, not in
    the inner loop of the reduction; ``inline_producers=False`` keeps a producer that is a
    kernel of its own (a transform whose result is read many times). ``vector`` > 1 makes
    each thread copy that many consecutive elements with one vector load (only when the
    copied rows are a multiple).
    """
    cache = sch.cache_read(consumer, read_index, scope)
    for producer in sch.get_producers(cache) if inline_producers else ():
        sch.compute_inline(producer)
    sch.compute_at(cache, at_loop)
    depth = _loop_depth(sch, cache, at_loop)
    loops = sch.get_loops(cache)[depth + 1:]
    if not loops:  # a single element: give it a loop, to be run by thread 0
        loops = [sch.add_unit_loop(cache)]
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    if vector > 1:
        _, thread, lanes = sch.split(fused, [None, threads, vector])
        sch.vectorize(lanes)
    else:
        _, thread = sch.split(fused, [None, threads])
    sch.bind(thread, "threadIdx.x")
    return cache


def unroll_below(sch, block, loop):
    """Unroll every loop of ``block`` nested inside ``loop``."""
    for inner in sch.get_loops(block)[_loop_depth(sch, block, loop) + 1:]:
        sch.unroll(inner)


def finish_gpu_reduction(sch, reduction, write_back, tiling):
    """Common tail of the CUDA schedules: write each thread's tile back from registers
    right after its reduction (``reverse_compute_at`` the thread loop), and split the
    accumulator's zero-initialisation off the reduction (``decompose_reduction``), both
    with their per-thread loops unrolled so the accumulators stay in registers."""
    sch.reverse_compute_at(write_back, tiling.thread)
    unroll_below(sch, write_back, tiling.thread)
    first = (tiling.chunks or tiling.reduction)[0]
    init = sch.decompose_reduction(reduction, first)
    unroll_below(sch, init, tiling.thread)
    return init


# --- Direct convolutions on the GPU (conv2d, depthwise_conv2d) ---------------------------------



def divisors(extent):
    """Divisors of ``extent``, largest first."""
    return [d for d in range(extent, 0, -1) if extent % d == 0]


def _channel_span(tile_out, per_group):
    """Upper bound on the groups that ``tile_out`` consecutive output channels touch, as TVM
    estimates it (the tile's first channel is symbolic)."""
    if tile_out <= per_group and per_group % tile_out == 0:
        return 1
    if tile_out % per_group == 0:
        return tile_out // per_group
    return (tile_out - 1) // per_group + 2


def conv_shared_elements(wl, tiles, chunks):
    """Elements of shared memory a direct-convolution block uses: the input window and the
    weight slice for one reduction chunk.

    ``tiles``: :class:`AxisTile` (or ``None``) for (batch, output channel, row, column);
    ``chunks``: (input channels, kernel rows, kernel columns) per chunk.
    """
    (_, c, _, _), (o, cg, _, _) = wl.shapes[:2]
    (sh, sw), (dh, dw) = wl["stride"], wl["dilation"]
    rc, ry, rx = chunks
    _, to, ty, tx = tiles
    per_group = o // (c // cg)
    span = _channel_span(to.size, per_group)
    channels = min(c, (span - 1) * cg + rc)
    window = (channels * window_extent(ty.size, sh, ry, dh)
              * window_extent(tx.size, sw, rx, dw))
    return window + to.size * rc * ry * rx


def _chunk_candidates(extent, preferred):
    first = reduction_chunk(extent, preferred, 4 * preferred)
    return [first] + [d for d in divisors(first) if d < first]


def plan_conv_tiles(wl, threads, per_thread, itemsize, channel_chunk=16, budget=None,
                    gpu=None):
    """Tiles and reduction chunks for a direct convolution on the GPU.

    ``threads``/``per_thread``: preferred (channels, rows, columns) of a block; columns are
    interleaved (coalesced). Tiles are shrunk to small outputs (``axis_tile``), threads that
    a small plane leaves unused go to the channel axis, and tiles shrink until the launch
    fills the GPU (``shrink_to_fill``). Chunks (input channels, kernel rows, kernel
    columns) divide their axes; the largest channel chunk (at most ``channel_chunk``) that
    fits ``budget`` bytes of shared memory with the whole kernel is taken, else the kernel
    rows, then columns are chunked too, and as a last resort the block tile shrinks.
    ``gpu``: the target's :class:`~tvmprims.schedules.hardware.GpuModel` (default
    ``sm_90``'s), whose ``shared_budget`` is the default ``budget``.
    Returns ``(tiles, chunks)``.
    """
    gpu = gpu or DEFAULT_GPU
    budget = gpu.shared_budget if budget is None else budget
    n, o, oh, ow = wl.output_shape
    _, cg, kh, kw = wl.shapes[1]
    extents = (n, o, oh, ow)
    tiles = [None,
             axis_tile(o, threads[0], per_thread[0]),
             axis_tile(oh, threads[1], per_thread[1]),
             axis_tile(ow, threads[2], per_thread[2], interleaved=True)]
    # Small planes leave threads unused: give them to the channels.
    wanted, spatial = threads[0] * threads[1] * threads[2], tiles[2].threads * tiles[3].threads
    if tiles[1].threads * spatial < wanted:
        tiles[1] = axis_tile(o, max(1, wanted // spatial), per_thread[0])
    tiles = shrink_to_fill(extents, tiles, gpu.min_blocks)
    rc_options = _chunk_candidates(cg, channel_chunk)
    while True:
        for ry in divisors(kh):
            for rx in divisors(kw):
                for rc in rc_options:
                    if conv_shared_elements(wl, tiles, (rc, ry, rx)) * itemsize <= budget:
                        return tiles, (rc, ry, rx)
        # Even one channel and one kernel tap per chunk does not fit: smaller block tiles.
        axes = [i for i in (1, 2, 3) if tiles[i].size > 1]
        i = max(axes, key=lambda i: tiles[i].size)
        t = tiles[i]
        tiles[i] = (t._replace(per_thread=t.per_thread // 2) if t.per_thread > 1
                    else t._replace(threads=ceil_div(t.threads, 2)))


def schedule_direct_conv(sch, tiles, chunks):
    """The direct-convolution schedule of conv2d and depthwise_conv2d: block and thread tiles
    over the output, the input window and the weights staged in shared memory per reduction
    chunk (padding inlined into the input fetch), register accumulators, guarded stores."""
    write_back, acc = accumulate_locally(sch, CONV, "local")
    tiling = bind_spatial_tiles(sch, acc, tiles, chunks=chunks)
    threads = threads_per_block(tiles)
    chunk = tiling.chunks[-1]
    cooperative_fetch(sch, acc, 0, chunk, threads)  # input window
    cooperative_fetch(sch, acc, 1, chunk, threads)  # weights
    finish_gpu_reduction(sch, acc, write_back, tiling)


# --- Element-wise kernels and per-output window reductions (add, concat, pooling) --------------

#: Threads per block of the one-thread-per-output kernels.
ELEMENTWISE_THREADS = 256


def bind_flat(sch, loops, threads=ELEMENTWISE_THREADS):
    """Fuse ``loops`` (a block's outer spatial loops) and bind them one output per thread:
    ``threads`` per block (fewer when there are fewer outputs), consecutive threads on
    consecutive outputs (coalesced); returns the thread loop."""
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    extent = loop_extent(sch, fused)
    block, thread = sch.split(fused, [None, min(threads, extent)])
    sch.bind(block, "blockIdx.x")
    sch.bind(thread, "threadIdx.x")
    return thread


def schedule_gpu_window_reduction(sch, reduction_name, pad_name=None, epilogue=None,
                                  unroll_limit=64):
    """A reduction over a small window per output (pooling): one output per thread,
    accumulated in a register (``local``) and written back once through ``epilogue``; the
    padding stage inlined into the reads; the window unrolled when it has at most
    ``unroll_limit`` elements."""
    write_back, acc = accumulate_locally(sch, reduction_name, "local", epilogue)
    if pad_name is not None:
        for producer in sch.get_producers(acc):
            if sch.get(producer).name_hint == pad_name:
                sch.compute_inline(producer)
    n, c, y, x, ry, rx = sch.get_loops(acc)
    thread = bind_flat(sch, [n, c, y, x])
    if loop_extent(sch, ry) * loop_extent(sch, rx) <= unroll_limit:
        sch.unroll(ry)
        sch.unroll(rx)
    sch.reverse_compute_at(write_back, thread)
    sch.decompose_reduction(acc, ry)
