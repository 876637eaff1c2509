"""Tiling logic shared by the hand schedules (CPU; the CUDA ones add gpu_tiling.py).

Every operator here is a reduction block (``matmul``, ``conv``, ``convolve``) followed, for
convolutions with bias, by an element-wise ``bias_add`` block. The schedules tile the *output*
block, compute the reduction inside each tile into a tile-sized accumulator (registers on CPU,
``local`` memory on CUDA), and write the tile back once.
"""

from tvmprims._tvm import ROOT_BLOCK, partitioned_block_name
from tvmprims.ops.conv2d import BIAS_ADD

from .hardware import CpuParams, cpu_model, cpu_params, lanes_for

__all__ = ["CPU_REGISTER_SCOPE", "CPU_STACK_BYTES", "divisor_at_most", "split_factor",
           "accumulate_locally", "tile_loops", "fuse_parallel", "vector_lanes",
           "vectorize_innermost", "find_block", "loop_extent", "partition_whole_tiles",
           "parallel_vectorized_stage", "phase_planes", "vectorize_phase_planes", "row_block",
           "tile_shape", "LONG_WINDOW", "FILL_MIN_VECTORS", "fill_then_copy",
           "schedule_sliding_window",
           "schedule_plane_sums", "plane_sum_lanes",
           "partial_sum_lanes", "PARALLEL_MIN_ELEMENTS",
           "PARALLEL_MIN_FLOPS", "schedule_contiguous"]


#: Storage scope of a CPU register tile (an accumulator tile under 1 KiB). TVM's
#: LowerTVMBuiltin turns a constant-size ``global`` allocation that small into a stack array,
#: which LLVM keeps in registers; every other scope, ``local`` included, becomes a
#: ``TVMBackendAllocWorkspace``/``FreeWorkspace`` call pair each time the tile runs (GEMM
#: 1024: 16384 pairs, 6% of the kernel's time). The stack array only pays when the tile is
#: laid out with the SIMD axis innermost and indexed by constants: LLVM splits one it cannot
#: keep whole into scalars and rebuilds the vectors on every FMA (a channels-first 8 x 7
#: conv2d tile ran 1.8x slower). ``matmul_log``, with a libm call per product, keeps ``local``.
CPU_REGISTER_SCOPE = "global"

#: TVM makes a ``global`` allocation of fewer bytes than this a stack array (``kMaxStackAlloca``).
CPU_STACK_BYTES = 1024


def divisor_at_most(extent, limit):
    """Largest divisor of ``extent`` that is <= ``limit``."""
    for factor in range(min(extent, limit), 0, -1):
        if extent % factor == 0:
            return factor
    return 1


def split_factor(extent, preferred, minimum=None):
    """A tile size for an axis of ``extent``: a divisor near ``preferred`` when one exists.

    Divisors avoid the boundary predicates that block vectorisation; when the best divisor is
    below ``minimum`` (primes, awkward sizes) ``preferred`` itself is used and TVM guards the
    last, partial tile. Never larger than ``extent``.
    """
    preferred = min(preferred, extent)
    best = divisor_at_most(extent, preferred)
    minimum = preferred // 2 if minimum is None else minimum
    return best if best >= minimum else preferred


def vector_lanes(target, dtype):
    """SIMD lanes of ``dtype`` on a CPU target: its vector width
    (:func:`~tvmprims.schedules.hardware.cpu_model`, read from the target's LLVM features:
    AVX-512 64 bytes, AVX/AVX2 32, NEON and SSE 16) over the dtype's size."""
    return cpu_model(target).lanes(dtype)


def accumulate_locally(sch, reduction_name, scope=CPU_REGISTER_SCOPE, epilogue=BIAS_ADD):
    """``(write_back, reduction)`` after giving the reduction a tile-sized accumulator.

    The reduction's result goes to a ``scope`` buffer and a new ``write_back`` block copies it
    out; an element-wise ``epilogue`` (default the convolutions' ``bias_add``,
    :data:`tvmprims.ops.conv2d.BIAS_ADD`; the average pools' division), when the workload has
    one, is folded into that copy. Once the
    write-back is computed at a tile of the reduction (``reverse_compute_at``), the accumulator
    shrinks to the tile: registers on CPU (:data:`CPU_REGISTER_SCOPE`), ``local`` memory on
    CUDA (pass ``scope="local"``).
    """
    reduction = sch.get_sblock(reduction_name)
    write_back = sch.cache_write(reduction, 0, scope)
    epilogue = find_block(sch, epilogue) if epilogue else None
    if epilogue is not None:
        sch.reverse_compute_inline(epilogue)
    return write_back, reduction


def tile_loops(sch, loops, factors):
    """Split each loop by its factor (``None``: keep whole); returns ``(outers, inners)``.

    Outer and inner loops are reordered so that all outers come first, each group keeping
    the original axis order.
    """
    outers, inners = [], []
    for loop, factor in zip(loops, factors):
        if factor is None:
            outers.append(loop)
            continue
        outer, inner = sch.split(loop, [None, factor])
        outers.append(outer)
        inners.append(inner)
    sch.reorder(*outers, *inners)
    return outers, inners


def fuse_parallel(sch, loops):
    """Fuse ``loops`` (outermost first) and mark the result ``parallel``; returns it."""
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    sch.parallel(fused)
    return fused


def vectorize_innermost(sch, block, lanes):
    """Vectorise a block's innermost loop, split to ``lanes`` when it is longer.

    Does nothing when that loop also holds other blocks (a write-back computed at a tile
    whose inner extent is 1 has no loop of its own): vectorising it would vectorise them too.
    """
    loops = sch.get_loops(block)
    if not loops or len(sch.get_child_blocks(loops[-1])) != 1:
        return
    loop = loops[-1]
    extent = _extent(sch, loop)
    if extent is None or extent <= 1:
        return
    if extent > lanes:
        _, loop = sch.split(loop, [None, split_factor(extent, lanes)])
    sch.vectorize(loop)


def _extent(sch, loop):
    extent = sch.get(loop).extent
    return int(extent) if hasattr(extent, "value") or isinstance(extent, int) else None


def loop_extent(sch, loop):
    """A loop's constant extent (int)."""
    return _extent(sch, loop)


def find_block(sch, name):
    """The block called ``name``, or None when the workload has no such stage."""
    for block in sch.get_child_blocks(sch.get_sblock(ROOT_BLOCK)):
        if sch.get(block).name_hint == name:
            return block
    return None


def partition_whole_tiles(sch, block_name, extent, tile):
    """Partition a block's outermost loop into a multiple of ``tile`` and a short remainder
    (``loop_partition``), so the main part needs no boundary predicate.

    Returns the name of the block that covers the whole tiles: the original name when the
    extent already is a multiple of ``tile`` or shorter than one tile.
    """
    whole = extent // tile * tile
    if whole == 0 or whole == extent:
        return block_name
    loop = sch.get_loops(sch.get_sblock(block_name))[0]
    var = sch.get(loop).loop_var.name
    sch.loop_partition(loop, [whole, None])
    return partitioned_block_name(block_name, var, 0)


def parallel_vectorized_stage(sch, block, lanes, parallel_loops=1):
    """Schedule an element-wise stage (padding, packing): parallel outer, SIMD inner loop."""
    loops = sch.get_loops(block)
    if 0 < parallel_loops < len(loops):
        fuse_parallel(sch, loops[:parallel_loops])
    vectorize_innermost(sch, block, lanes)


def phase_planes(sch, block, stride):
    """Store the NCHW image ``block`` writes as ``stride`` planes of every ``stride``-th
    column, ``[n, c, x % stride, y, x // stride]`` (zeros past the end when the width is
    not a multiple), so that a convolution with column stride ``stride`` reads the inputs
    of consecutive outputs of one tap as one contiguous vector instead of a gather."""
    sch.transform_layout(block, ("write", 0),
                         lambda n, c, y, x: (n, c, x % stride, y, x // stride), pad_value=0.0)


def vectorize_phase_planes(sch, block, stride, lanes):
    """Vectorise the innermost (column) loop of the stage that stores ``block`` as phase
    planes (:func:`phase_planes`).

    Vectorised as it stands, that loop reads a vector of contiguous columns and scatters it
    over the ``stride`` planes, one element at a time. When a plane's row holds at least two
    vectors, the loop is split into (plane column, phase) with the phase unrolled and left
    to LLVM's loop vectoriser, which recognises the interleaved loads and writes each plane
    with whole vectors and shuffles: 3x3 stride-2 depthwise on 96 x 112 x 112 ran 2.0x
    faster, on 72 x 72 x 72 1.5x (AVX-512); on 144 x 56 x 56, whose plane rows are 29
    columns, 1.1x slower, so shorter rows keep the scatter.
    """
    loops = sch.get_loops(block)
    width = _extent(sch, loops[-1])
    if stride > 1 and width is not None and width // stride >= 2 * lanes:
        _, phase = sch.split(loops[-1], [None, stride])
        sch.unroll(phase)
    else:
        vectorize_innermost(sch, block, lanes)


# --- Sliding-window reductions (depthwise convolution, pooling) ---------------------------------

def row_block(out_width, lanes, params=None):
    """Output columns per tile: the largest divisor of the width that is a whole number of
    vectors (at most ``params.depthwise_vectors``, four on AVX2), else the largest divisor
    up to that size (LLVM covers it with a vector and a shorter tail)."""
    limit = (params or CpuParams()).depthwise_vectors * lanes
    for factor in range(min(out_width, limit), 0, -1):
        if out_width % factor == 0 and factor % lanes == 0:
            return factor
    return divisor_at_most(out_width, limit)


#: Window columns from which :func:`tile_shape` gives rows shorter than a vector several
#: rows per tile (3x3 windows ran slower that way: 960x7x7 21 -> 33 us with 7 rows).
LONG_WINDOW = 5


def tile_shape(out_height, out_width, kernel_width, lanes, params=None):
    """``(rows, cols)`` of the register tile of a sliding-window reduction.

    A width that is a whole number of vectors gets one-vector tiles of several rows (a
    divisor of the height, at most ``kernel_width`` and ``params.fma_chains``), so that
    each tap feeds that many independent FMAs: 7x7 depthwise on 96 x 56 x 56 ran 2x faster
    with 8 x 8 tiles than with 1 x 8 or 1 x 16, 3x3 on 32 x 112 x 112 1.5x faster with 2 x 8.
    Other widths (28, 14, 7) get one row of :func:`row_block` columns (a vector tail
    included): more rows of such tiles ran 1.5 to 3x slower with 3x3 windows. A row shorter
    than a vector under a window of :data:`LONG_WINDOW` columns or more (5x5 depthwise on
    14x14 and 7x7 planes) is one accumulator over 25 dependent FMAs: there the tile takes
    the fewest rows (at most ``params.fma_chains``) that hold a vector's worth of outputs, else
    the most rows up to that bound (Zen 4, 5x5, us per image, one row
    -> these: 480x14x14 78 -> 58 with 2 rows, 672x14x14 107 -> 79, 1152x7x7 71 -> 54 with
    7, 672x14x14 stride 2 61 -> 51; ``docs/depthwise_long_window_rows.py``).
    """
    params = params or CpuParams()
    cols = row_block(out_width, lanes, params)
    if cols % lanes:
        if cols < lanes and kernel_width >= LONG_WINDOW:
            rows = [d for d in range(1, min(out_height, params.fma_chains) + 1)
                    if out_height % d == 0]
            return next((d for d in rows if d * cols >= lanes), rows[-1]), cols
        return 1, cols
    return divisor_at_most(out_height, max(1, min(params.fma_chains, kernel_width))), lanes


#: Vectors of a padded row from which :func:`schedule_sliding_window` pads a plane as a fill
#: and a copy (:func:`fill_then_copy`). Measured on Zen 4, depthwise (us, one loop -> fill
#: and copy): 3x3 on 32x112x112 99.9 -> 73.6 and 144x56x56 131 -> 107, but on 28x28 planes
#: (rows of 30 and 32 floats, two 16-float vectors at most) 3x3 34.9 -> 40.1 and 5x5 89.7 ->
#: 93.4; 14x14 and 7x7 planes unchanged. (``docs/depthwise_padding.py``)
FILL_MIN_VECTORS = 3


def fill_then_copy(sch, pad, loop, lanes):
    """Schedule the zero-padding stage ``pad`` under ``loop`` (its outermost loop of a plane:
    rows, or columns of a one-row plane) as two vectorised loops: the padded plane filled
    with the pad value, then the image's rows copied into it (``decompose_padding``). As
    one loop, its per-element bounds test differs across the lanes of a vector, so TVM left
    it scalar (:data:`FILL_MIN_VECTORS`)."""
    fill = sch.decompose_padding(pad, loop)
    vectorize_innermost(sch, fill, lanes)
    vectorize_innermost(sch, pad, lanes)


def schedule_sliding_window(sch, reduction_name, pad_name, stride, rows, cols, lanes,
                            epilogue=BIAS_ADD, unroll_rows=True):
    """The CPU schedule of a per-channel sliding-window reduction over an NCHW image, with
    loops ``(n, c, y, x, ry, rx)`` (depthwise convolution, pooling):

    1. **Padding fused per channel**: stage ``pad_name`` (when the workload has it) is
       computed per (batch, channel) plane right before that plane is reduced, so it is
       still in cache when read and no padded copy of the tensor goes through memory;
       without a stride and on rows of :data:`FILL_MIN_VECTORS` vectors or more, as a fill
       and a copy of the rows (:func:`fill_then_copy`).
    2. **Phase planes** for a column ``stride`` > 1 (:func:`phase_planes`; a per-plane copy
       when there is no padding stage): the inputs of consecutive outputs of one tap are one
       contiguous vector load, not a gather.
    3. **Register tile** of ``rows`` x ``cols`` outputs (:func:`tile_shape`), accumulated
       over the window, then written back through ``epilogue`` (:func:`accumulate_locally`).
    4. **Unrolled** window columns (and window rows unless ``unroll_rows`` is False) and
       tile rows; the tile's columns vectorised.
    5. **Parallel** over (batch, channel).
    """
    write_back, acc = accumulate_locally(sch, reduction_name, epilogue=epilogue)
    plane_input = find_block(sch, pad_name) if pad_name else None
    if plane_input is None and stride > 1:
        plane_input = sch.cache_read(acc, 0, "global")
    if plane_input is not None and stride > 1:
        phase_planes(sch, plane_input, stride)
    n, f, y, x, ry, rx = sch.get_loops(acc)
    yo, yi = sch.split(y, [None, rows])
    xo, xi = sch.split(x, [None, cols])
    sch.reorder(n, f, yo, xo, ry, rx, yi, xi)
    plane = fuse_parallel(sch, [n, f])
    sch.vectorize(xi)
    sch.unroll(yi)
    sch.unroll(rx)
    if unroll_rows:
        sch.unroll(ry)
    sch.reverse_compute_at(write_back, xo)
    vectorize_innermost(sch, write_back, lanes)
    if plane_input is not None:
        sch.compute_at(plane_input, plane)
        loops = sch.get_loops(plane_input)
        if stride == 1 and _extent(sch, loops[-1]) >= FILL_MIN_VECTORS * lanes:
            fill_then_copy(sch, plane_input, loops[1], lanes)
        else:
            vectorize_phase_planes(sch, plane_input, stride, lanes)
    sch.decompose_reduction(acc, ry)


def schedule_plane_sums(sch, reduction_name, epilogue, vector, rows, parallel):
    """The CPU schedule of a reduction of each whole (batch, channel) plane of an NCHW
    image to one value, with loops ``(n, c, 0, 0, *reduction)`` over the whole plane, whose
    elements are contiguous: global average or max pooling (``ry, rx``), or a 1x1
    convolution of a 1x1 image (``rc, 0, 0``: dot products of weight rows with the input).

    1. **Flat plane**: the reduction loops are fused into one loop over H*W, whose index
       ``(k // W) * W + k % W`` TVM simplifies back to ``k``: contiguous vector loads.
    2. **Partial sums**: that loop is split into vectors of ``vector`` lanes (fewer when the
       plane is smaller, :func:`partial_sum_lanes`) and ``rfactor``-ed, so each plane
       accumulates them in one register; the last, partial vector is a separate part of
       the loop (``loop_partition``), so the others run unmasked.
    3. **Register tile** of ``rows`` channels (a divisor of C near it, else ``rows`` with the
       last tile guarded): that many independent accumulator chains per step. The
       horizontal sums of a tile's partial sums and the ``epilogue`` (the average's
       division; None when the reduction is the output) run right after it, unrolled
       (LLVM turns them into a transpose of the tile and vector additions).
    4. **Parallel** over (batch, channel tile) when ``parallel``.
    """
    reduction = sch.get_sblock(reduction_name)
    n, c, _, _, *window = sch.get_loops(reduction)
    plane = sch.fuse(*window)
    size = loop_extent(sch, plane)
    vector = partial_sum_lanes(size, vector)
    _, lane = sch.split(plane, [None, vector])
    partial = sch.rfactor(lane, factor_axis=4)  # partial sums [n, c, 0, 0, lane]
    n, c, y, x, step, lane = sch.get_loops(partial)
    channels = loop_extent(sch, c)
    tile, row = sch.split(c, [None, split_factor(channels, rows)])
    sch.reorder(n, tile, y, x, step, row, lane)
    outer = sch.fuse(n, tile)
    sch.reverse_compute_at(reduction, outer)
    final = find_block(sch, epilogue) if epilogue else None
    if final is not None:
        sch.reverse_compute_at(final, outer)
    sch.unroll(row)
    if vector > 1:
        sch.vectorize(lane)
    for loop in sch.get_loops(reduction)[1:]:
        sch.unroll(loop)
    if parallel:
        sch.parallel(outer)
    sch.decompose_reduction(partial, step)
    if size % vector and size > vector:
        sch.loop_partition(step, [size // vector, None])


def plane_sum_lanes(target, dtype):
    """The widest partial-sum vector of :func:`schedule_plane_sums` on ``target``: its
    vector width, at most ``plane_sum_vector_bytes`` (:class:`CpuParams`)."""
    return min(vector_lanes(target, dtype),
               lanes_for(cpu_params(target).plane_sum_vector_bytes, dtype))


def partial_sum_lanes(size, vector):
    """Lanes of the partial sums of :func:`schedule_plane_sums` over ``size`` elements:
    ``vector`` (at most ``size``), or when that leaves a partial vector, the widest half or
    quarter of it that divides ``size``. The partial vector runs as scalar code (TVM does
    not vectorise a guard that differs across lanes): a 28 -> 672 squeeze-and-excitation
    layer took 3.7 us on Zen 4 with 8 lanes and a 4-element tail per output, 0.9 with 4."""
    vector = min(vector, size)
    if size % vector:
        for narrower in (vector // 2, vector // 4):
            if narrower > 1 and size % narrower == 0:
                return narrower
    return vector


# --- Element-wise and copy kernels (add, concat) -------------------------------------------------

#: Elements below which an element-wise kernel runs on one thread: starting the thread pool
#: costs microseconds, about what one core takes to stream this many.
PARALLEL_MIN_ELEMENTS = 16384

#: Floating-point operations below which a reduction kernel runs on one thread, for the
#: same reason (a launch of the pool costs 1.5 to 2.5 us on Zen 4).
PARALLEL_MIN_FLOPS = 1 << 17


def schedule_contiguous(sch, block, lanes, contiguous_from=0):
    """Schedule a block whose loops ``contiguous_from`` and after address one contiguous
    range of its output and of each input (an element-wise sum: all of them; one input's
    part of a concatenation: those from the concatenated axis on).

    Those loops are fused and split into vectors of ``lanes`` (a last, partial vector is
    masked); the outer loops and the vector loop are fused and run in parallel when the
    block has :data:`PARALLEL_MIN_ELEMENTS` elements or more.
    """
    loops = sch.get_loops(block)
    total = 1
    for loop in loops:
        total *= loop_extent(sch, loop)
    outer, inner = list(loops[:contiguous_from]), loops[contiguous_from:]
    inner = sch.fuse(*inner) if len(inner) > 1 else inner[0]
    if loop_extent(sch, inner) > lanes:
        vectors, inner = sch.split(inner, [None, lanes])
        outer.append(vectors)
    sch.vectorize(inner)
    if outer and total >= PARALLEL_MIN_ELEMENTS:
        fuse_parallel(sch, outer)
