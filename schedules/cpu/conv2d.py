"""CPU schedule for direct ``conv2d`` (NCHW, any stride, padding, dilation, groups).

1. **Weight packing**: the weight is re-laid out as ``W[o // ocb, c, kh, kw, o % ocb]`` so
   that ``ocb`` output channels of one tap are one contiguous SIMD load. The packing pass
   walks that layout in order (contiguous vector stores, parallel over channel blocks).
2. **Register blocking**: each tile computes ``ocb`` output channels (one or two vectors) by
   ``rows`` output rows by ``cols`` columns; its vector accumulators stay in registers over
   the whole reduction (C/groups x KH x KW). Every input element loaded is broadcast against
   ``ocb`` channels, which is why this works for any stride.
3. **Mixed tile widths**: a row segment is covered by tiles of ``cols`` columns and then
   ``short`` tiles of ``cols - 1`` (``loop_partition``), so widths with no good divisor
   still get wide tiles (14 = 5 + 5 + 4) and no loop carries a predicate. The segment's
   accumulators are one stack array, written back once per segment. A prime width over
   what a segment holds (17, 31, 509) is cut into segments that do not divide it, the last
   one guarded by the block's predicate (``_ragged_width_tiles``).
4. **Vectorisation and unrolling**: FMAs over output channels, rows, columns and the kernel
   width (up to 15 taps; strided kernels wider than 7 with smaller tiles,
   :func:`tap_sharing_budget`) unrolled.
5. **Parallelism** over (batch, channel block, row block).
6. **Padding** is a separate parallel, vectorised pass (computing it inside the reduction
   would put a bounds test in the innermost loop).
7. **Loop order**: row blocks outside channel blocks when the weight is cheap to stream
   again for each row block (:func:`image_outer`).

Layers with few input channels (RGB stems, ResNeXt's groups of 4) get **column-vector
tiles** instead (:func:`column_tile`, :func:`column_tiling`): vectors of output columns
times broadcast weights, the padded image stored as per-stride phase planes so that strided
inputs are contiguous loads.

1x1 convolutions of 1x1 images (squeeze and excitation) are **dot products**
(:func:`single_pixel_pointwise`): weight rows and input channels are both contiguous, so
nothing is packed (packing copied the whole weight on every call), and below
``PARALLEL_MIN_FLOPS`` they run on one thread. EfficientNet-B0's 480 -> 20 layer: 3.6 to 1.2 us
for the kernel, Zen 4.
"""

import math
from collections import namedtuple

from tvmprims._tvm import partitioned_block_name
from tvmprims.ops.conv2d import BIAS_ADD, CONV, PAD

from ..common import (CPU_STACK_BYTES, PARALLEL_MIN_FLOPS, accumulate_locally, divisor_at_most,
                      find_block, fuse_parallel, parallel_vectorized_stage, phase_planes,
                      plane_sum_lanes, schedule_plane_sums, vector_lanes, vectorize_innermost,
                      vectorize_phase_planes)
from ..hardware import CpuParams, cpu_params

__all__ = ["schedule", "tile_sizes", "Tiles", "image_outer", "column_tile", "column_tiling",
           "weight_block", "single_pixel_pointwise", "tap_sharing_budget"]

# The register budget of a tile and the accumulators that hide the FMA latency are the
# target's CpuParams.conv2d_registers and .fma_chains (schedules/hardware.py).

#: Widest kernel whose taps a column-vector tile unrolls (:func:`_schedule_columns`); wider
#: ones stay a loop (Xeon, unrolled up to 15: an 11x11 stride-2 stem 1.23x faster, a 15-tap
#: conv1d 1.17x slower, 9x9 unchanged).
MAX_UNROLLED_WIDTH = 7

#: Widest kernel whose taps a channel tile unrolls. Unrolled, the 8 to 15 taps of a row of
#: the kernel run 1.1 to 1.3x faster (Xeon, kernel ms, loop -> unrolled, torch: 64x56x56
#: 9x9 5.85 -> 4.61 (5.14), 128x28x28 9x9 5.90 -> 4.77 (4.85), 32x64x64 11x11 3.15 -> 2.61
#: (2.56), an 11-tap conv1d 8x64x509 -> 96 1.67 -> 1.43 (1.66), a 15-tap one 0.37 -> 0.33
#: (0.39)); strided, with tiles of at most :data:`MAX_SHARED_TAP_ACCUMULATORS` accumulators
#: (:func:`tap_sharing_budget`).
MAX_UNROLLED_TAPS = 15

#: Fewest output pixels per row block for which the tile loops stream the weight once per row
#: block (see :func:`image_outer`); measured on ResNet layers (AVX2, Zen 3).
MIN_WEIGHT_REUSE = 14

class Tiles(namedtuple("Tiles", "channels rows segment cols short")):
    """Register tiling of the output: ``channels x rows`` by ``segment`` columns, the segment
    split into :attr:`whole` tiles of ``cols`` columns then ``short`` tiles of ``cols - 1``."""

    __slots__ = ()

    @property
    def whole(self):
        return (self.segment - self.short * (self.cols - 1)) // self.cols

    @property
    def widths(self):
        """Column counts of the tiles of one segment, in order."""
        return [self.cols] * self.whole + [self.cols - 1] * self.short


def _segment_tilings(segment, max_cols):
    """``(cols, short)`` pairs that cover ``segment`` columns with tiles of ``cols`` and
    ``cols - 1`` columns, at most ``max_cols`` wide."""
    for cols in range(1, min(segment, max_cols) + 1):
        short = 0 if cols == 1 else -segment % cols
        if short * (cols - 1) <= segment:
            yield cols, short


def tile_sizes(out_channels, out_height, out_width, lanes, channels_per_group=None,
               itemsize=4, params=None, max_channels=None, max_accumulators=None,
               narrow=False):
    """The :class:`Tiles` of a convolution output, for ``lanes``-wide SIMD.

    Channel tiles are one or two vectors (a divisor of ``channels_per_group``; two only when
    that is at most ``max_channels``, if given); a segment is a divisor of the width whose
    accumulators fit a stack array. Among tilings of at most
    ``params.conv2d_registers`` accumulators per tile (the target's
    :class:`~tvmprims.schedules.hardware.CpuParams`, AVX2's by default), the choice hides
    the FMA latency in its smallest tile first (``params.fma_chains``), then keeps the most
    accumulators on average over the columns, then the most FMAs per load (a step loads
    ``vectors`` weight vectors and broadcasts ``rows x cols`` inputs). ``max_accumulators``
    lowers every budget to it (:func:`tap_sharing_budget`). ResNet-18's 14 x 14
    layer: 16 channels by 5 + 5 + 4 columns, 1.09x faster than 16 x 2 rows x 2 columns.

    When that leaves one-column tiles on a wider output (a prime width over the columns a
    stack segment holds: 17, 31, 509), the segments need not divide the width: the last one
    is cut short by the block's predicate (:func:`_ragged_width_tiles`).
    """
    params = params or CpuParams()
    limit = channels_per_group or out_channels
    best, best_key = None, None
    for vectors in (2, 1):
        channels = vectors * lanes
        if limit % channels or (vectors > 1 and max_channels and channels > max_channels):
            continue
        budget = accumulator_budget(params, vectors, narrow, max_accumulators)
        for rows in range(1, budget // vectors + 1):
            if out_height % rows:
                continue
            stack = (CPU_STACK_BYTES - 1) // (channels * rows * itemsize)
            for segment in range(1, min(out_width, stack) + 1):
                if out_width % segment == 0:
                    best, best_key = _better(best, best_key, channels, vectors, rows, segment,
                                             budget, params.fma_chains)
    if best is None:  # channel counts not a multiple of the vector width: tiles of their
        # widest divisor below it (ResNeXt's groups of 4 or 8), with rows and columns
        # searched as for a vector that wide
        narrower = divisor_at_most(limit, lanes)
        if narrower == 1:
            cols = divisor_at_most(out_width, params.conv2d_registers)
            return Tiles(1, 1, cols, cols, 0)
        return tile_sizes(out_channels, out_height, out_width, narrower, channels_per_group,
                          itemsize, params, narrower, max_accumulators, narrow=True)
    if best.cols == 1 < out_width:
        budget = accumulator_budget(params, best.channels // lanes, narrow, max_accumulators)
        best = _ragged_width_tiles(best, out_width, lanes, itemsize, params, budget)
    return best


def accumulator_budget(params, vectors, narrow=False, max_accumulators=None):
    """Most accumulators of a tile of ``vectors`` channel vectors (``params``' fields):
    ``conv2d_registers`` for two, ``conv2d_one_vector_registers`` for one (one weight
    register per step), ``conv2d_narrow_registers`` for a vector narrower than the
    target's (groups of 8 channels on AVX-512); at most ``max_accumulators`` if given."""
    if narrow:
        budget = params.conv2d_narrow_registers
    else:
        budget = params.conv2d_one_vector_registers if vectors == 1 else params.conv2d_registers
    return budget if max_accumulators is None else min(budget, max_accumulators)


def _better(best, best_key, channels, vectors, rows, segment, budget, chains):
    """``(Tiles, key)``: ``best`` or a tiling of ``segment`` columns that beats it (the order of
    :func:`tile_sizes`)."""
    for cols, short in _segment_tilings(segment, budget // (vectors * rows)):
        tiles = Tiles(channels, rows, segment, cols, short)
        widths = tiles.widths
        accs = [vectors * rows * c for c in widths]
        key = (min(min(accs), chains),
               round(sum(a * c for a, c in zip(accs, widths)) / segment, 6),
               round(sum(a / (vectors + rows * c) * c for a, c in zip(accs, widths))
                     / segment, 6),
               -rows, segment)
        if best_key is None or key > best_key:
            best, best_key = tiles, key
    return best, best_key


def _ragged_width_tiles(tiles, out_width, lanes, itemsize, params, budget):
    """One-row tiles of ``tiles.channels`` channels (at most ``budget`` accumulators) over the
    best segment that fits a stack array, whether or not it divides ``out_width`` (``tiles``
    when none of two columns does).
    ``schedule`` splits the width by it; TVM guards the last segment's columns past the width
    with the block's predicate, which it hoists out of the reduction loops. Measured on Zen 4,
    one-column tiles -> these (torch): a conv1d 8 x 64 x 509 -> 96 with 5 taps 2.49 ->
    1.21 ms (1.21); 64 x 31 x 31, 5x5, 1.95 -> 0.95 ms (0.90); Inception's 1x7 on
    128 x 17 x 17, 0.69 -> 0.35 ms (0.34)."""
    vectors = tiles.channels // lanes
    stack = (CPU_STACK_BYTES - 1) // (tiles.channels * itemsize)
    best, best_key = tiles, None
    for segment in range(2, min(out_width, stack) + 1):
        best, best_key = _better(best, best_key, tiles.channels, vectors, 1, segment, budget,
                                 params.fma_chains)
    return best


def image_outer(wl, tiles, params=None):
    """Whether the tile loops run over output rows outside channel blocks.

    Channel blocks outermost keep one block's weight panel in cache and stream the image
    once per block; rows outermost keep a few input rows in cache and stream the whole
    weight (sequentially, panel after panel) once per row block. Rows outermost when each
    weight vector fetched feeds at least :data:`MIN_WEIGHT_REUSE` FMAs (``rows x OW``) and
    the weight is no larger than one padded input image, so that what is read again is the
    smaller of the two, or than a quarter of L2 (half of ``params.gemm_in_l2_bytes``), where
    re-reading it costs little (64x14x14 -> 64, 147 KiB of weight against a 64 KiB image:
    0.055 ms rows outermost, 0.060 the other way; 64x28x28 -> 128 1.03x). Zen 3: ResNet-50's
    1x1 256 -> 64 on 56 x 56 ran 1.4 to 1.6x faster rows outermost, ResNet-18's 3x3 64 on
    56 x 56 1.2 to 1.3x; its 3x3 512 on 7 x 7 (9 MiB of weight, 7 FMAs per weight vector)
    1.4x slower. Xeon (2 MiB L2), channel blocks outermost
    when the weight is the larger (``docs/tile_loop_order.py``): ResNet-50's 3x3 256 stride 2
    on 28 x 28 0.99 -> 0.83 ms, 3x3 256 on 28 x 28 3.15 -> 2.55 ms, 192 -> 384 on 14 x 14
    1.02 -> 0.79 ms; the image the larger, rows outermost stayed 1.06-1.16x faster (3x3 128
    stride 2 on 56 x 56, 64 on 56 x 56, 32 -> 64 stride 2 on 112 x 112).
    """
    if tiles.rows * wl.output_shape[3] < MIN_WEIGHT_REUSE:
        return False
    (_, c, h, w), (pt, pb, pl, pr) = wl.shapes[0], wl["padding"]
    weight = math.prod(wl.shapes[1])
    small = (params or CpuParams()).gemm_in_l2_bytes // 2 // _itemsize(wl)
    return weight <= max(c * (h + pt + pb) * (w + pl + pr), small)


#: Most input channels per group of a layer that gets column-vector tiles (see
#: :func:`column_tile`).
MAX_COLUMN_CHANNELS = 4


def column_tile(wl, lanes, params=None):
    """``(channels, columns)`` of a column-vector tile for a layer with at most
    :data:`MAX_COLUMN_CHANNELS` input channels per group (RGB stems), or None.

    Channel-vector tiles end each tile with a transposing write-back (every accumulator
    vector holds one pixel of several output channels), which a short reduction cannot
    amortise: MobileNet's stem (3 -> 32, 3x3 stride 2, 27 taps) ran 1.3 to 1.8x faster with
    column tiles, ResNet's 7x7 stem 1.05 to 1.15x (1.3x at batch 4); layers of 16 or more
    channels ran slower (3x3 stride 2, 16 -> 32 on 112 x 112: 2x slower).
    ``columns`` is a divisor of the output width that is one or ``params.gemm_vectors``
    vectors (None when there is none), ``channels`` a divisor of the output channels, so
    that the tile holds at most ``params.fma_chains`` accumulators.
    """
    params = params or CpuParams()
    _, o, _, ow = wl.output_shape
    if wl.shapes[1][1] > MAX_COLUMN_CHANNELS:
        return None
    for cols in range(min(ow, params.gemm_vectors * lanes) // lanes * lanes, 0, -lanes):
        if ow % cols == 0:
            return divisor_at_most(o, max(1, params.fma_chains // (cols // lanes))), cols
    return None


def column_tiling(wl, lanes, params=None):
    """``(vector, channels, columns)`` of the column-vector tiles :func:`schedule` gives
    ``wl`` (``vector`` the SIMD lanes they use), or None: :func:`column_tile`'s with the
    target's vector, else with half of it when that half is 32 bytes or more, so that a width
    that is a multiple of half a vector (56 on AVX-512) still gets them: ResNeXt's groups of
    4 channels on 56 x 56 ran 0.37 -> 0.20 ms on Zen 4 (channel tiles before), as the AVX2
    code of the same layer already did."""
    half = lanes // 2
    for vector in (lanes, half) if half * _itemsize(wl) >= 32 else (lanes,):
        tile = column_tile(wl, vector, params)
        if tile is not None:
            return (vector, *tile)
    return None


def _schedule_columns(sch, wl, lanes, channels, cols):
    """Column-vector tiles: ``channels`` output channels by ``cols`` columns of one row,
    accumulated over all taps, each tap a broadcast weight times a vector of inputs read
    from the padded image (stored as phase planes when strided, so contiguous)."""
    write_back, acc = accumulate_locally(sch, CONV)
    stride = wl["stride"][1]
    image = find_block(sch, PAD)
    if image is None and stride > 1:
        image = sch.cache_read(acc, 0, "global")
    if image is not None:
        if stride > 1:
            phase_planes(sch, image, stride)
        fuse_parallel(sch, sch.get_loops(image)[:3])
        vectorize_phase_planes(sch, image, stride, lanes)
    n, f, y, x, rc, ry, rx = sch.get_loops(acc)
    fo, fi = sch.split(f, [None, channels])
    xo, xi = sch.split(x, [None, cols])
    sch.reorder(n, fo, y, xo, rc, ry, rx, fi, xi)
    fuse_parallel(sch, [n, fo, y])
    sch.reverse_compute_at(write_back, xo)
    vectorize_innermost(sch, write_back, lanes)
    sch.vectorize(xi)
    sch.unroll(fi)
    if wl.shapes[1][3] <= MAX_UNROLLED_WIDTH:
        sch.unroll(rx)
    sch.decompose_reduction(acc, rc)


def _tiles(wl, lanes, params):
    _, o, oh, ow = wl.output_shape
    groups = wl.get("groups", 1)
    itemsize = _itemsize(wl)
    return tile_sizes(o, oh, ow, lanes, o // groups if groups > 1 else None, itemsize, params,
                      pointwise_channels(wl, params, itemsize), tap_sharing_budget(wl, params))


#: Most accumulators of a channel tile whose strided taps, more than 7, are unrolled (see
#: :func:`tap_sharing_budget`). What spills is the inputs neighbouring columns share,
#: ``(columns - 1) x stride + taps`` of them: the AlexNet stem ran 0.383 ms by 32 channels x
#: 5 columns, 0.378 by 32 x 6, 0.619 by 16 x 11 and 0.642 by 32 x 7; 10 keeps the wide
#: one-vector tiles out (on two-FMA cores AVX-512's budgets are otherwise 14).
MAX_SHARED_TAP_ACCUMULATORS = 10


def tap_sharing_budget(wl, params):
    """Most accumulators of a channel tile of ``wl`` when its taps are unrolled and strided
    and more than :data:`MAX_UNROLLED_WIDTH` (``params.conv2d_registers``, at most
    :data:`MAX_SHARED_TAP_ACCUMULATORS`), else None (the budgets of
    :func:`accumulator_budget`).

    Unrolled, tap ``r`` of column ``x + 1`` reads the input of tap ``r + stride`` of column
    ``x``; LLVM loads each such input once and keeps it in a register for all its uses, and
    with a wide strided kernel and 11 to 14 accumulators that spills. Xeon, ms, 16 channels
    x 11 to 14 columns, taps a loop -> 32 channels x 4 or 5 columns unrolled (16 x 11
    unrolled) (torch): AlexNet's stem 3x224x224 -> 64 11x11 stride 4 0.425 -> 0.383 (0.619)
    (0.386), 8x224x224 -> 64 stride 4 1.18 -> 0.98 (1.52) (1.01), 32x56x56 -> 64 11x11
    stride 2 1.18 -> 1.08 (1.31) (1.12), 16x112x112 -> 32 9x9 stride 2 0.78 -> 0.70 (0.96)
    (0.79), 64x56x56 -> 128 9x9 stride 2 3.10 -> 2.94 (3.84) (2.79). At stride 1 the
    larger tiles unrolled are the faster (64x56x56 9x9: 16 x 14 4.61 ms, 32 x 4 5.31)."""
    kernel_width, stride = wl.shapes[1][3], wl["stride"][1]
    if stride > 1 and MAX_UNROLLED_WIDTH < kernel_width <= MAX_UNROLLED_TAPS:
        return min(params.conv2d_registers, MAX_SHARED_TAP_ACCUMULATORS)
    return None


def _itemsize(wl):
    return 8 if wl.dtype == "float64" else 4


def pointwise_channels(wl, params, itemsize):
    """Most output channels of a 1x1 layer's tile: a cache line of packed weight per input
    channel (None for other kernels). Measured on Zen 4, kernel alone, 32 channels (two
    AVX-512 vectors, the tiling key's choice) -> 16: ResNet-50's 1024x14x14 -> 256 0.69 ->
    0.52 ms, 512x28x28 -> 1024 stride 2 1.18 -> 0.99, 14x14 and 28x28 layers of 96 to 640
    channels 1.03-1.05x faster, 7x7 ones unchanged, 24x28x28 -> 144 0.94x; on AVX2 the key's
    16 channels are two vectors, and one (8) ran 0.54-0.70x."""
    if tuple(wl.shapes[1][2:4]) != (1, 1):
        return None
    return params.cache_line_bytes // itemsize


def weight_block(wl, target):
    """The channel panel width this schedule packs the weight of ``wl`` into on ``target``
    (a layer built with ``weight_block`` set to it skips the packing pass), or None when it
    reads the weight as it is (column-vector tiles)."""
    lanes = vector_lanes(target, wl.dtype)
    params = cpu_params(target)
    if single_pixel_pointwise(wl) or column_tiling(wl, lanes, params) is not None:
        return None
    return _tiles(wl, lanes, params).channels


def single_pixel_pointwise(wl):
    """Whether ``wl`` is a 1x1 convolution of a 1x1 image without padding (the squeeze and
    excitation layers of EfficientNet and MobileNetV3): each output is the dot product of a
    weight row with the input's channels, both contiguous, so it is scheduled as such
    (:func:`~tvmprims.schedules.common.schedule_plane_sums`), the weight read in place."""
    if len(wl.shapes[1]) != 4:  # a pre-packed weight (nn layers: weight_block)
        return False
    (_, _, h, w), (_, _, kh, kw) = wl.shapes[0], wl.shapes[1]
    return ((h, w, kh, kw) == (1, 1, 1, 1) and wl.get("groups", 1) == 1
            and not any(wl["padding"]))


def schedule(sch, wl, target):
    lanes = vector_lanes(target, wl.dtype)
    if single_pixel_pointwise(wl):
        schedule_plane_sums(sch, CONV, BIAS_ADD, plane_sum_lanes(target, wl.dtype),
                            cpu_params(target).fma_chains,
                            parallel=wl.flops >= PARALLEL_MIN_FLOPS)
        return
    columns = column_tiling(wl, lanes, cpu_params(target))
    if columns is not None:
        _schedule_columns(sch, wl, *columns)
        return
    tiles = _tiles(wl, lanes, cpu_params(target))
    packed = wl.get("weight_block")
    if packed is not None and packed != tiles.channels:
        raise ValueError(f"this layer's weight is packed in {packed}-channel panels, but the "
                         f"CPU schedule for {target} tiles {tiles.channels} channels: pack it "
                         "with schedules.cpu.conv2d.weight_block(workload, target)")
    write_back, acc = accumulate_locally(sch, CONV)
    # Channels innermost in the accumulator, as in the FMAs (see CPU_REGISTER_SCOPE).
    sch.transform_layout(acc, ("write", 0), lambda n, f, y, x: (n, y, x, f))
    pad = find_block(sch, PAD)
    if pad is not None:
        parallel_vectorized_stage(sch, pad, lanes, parallel_loops=2)
    if packed is None:
        _pack_weight(sch, acc, tiles.channels, lanes)

    n, f, y, x, rc, ry, rx = sch.get_loops(acc)
    fo, fi = sch.split(f, [None, tiles.channels])
    yo, yi = sch.split(y, [None, tiles.rows])
    xs, xi = sch.split(x, [None, tiles.segment])
    outer = [n, yo, fo] if image_outer(wl, tiles, cpu_params(target)) else [n, fo, yo]
    sch.reorder(*outer, xs, xi, rc, ry, rx, yi, fi)
    fuse_parallel(sch, outer)
    sch.reverse_compute_at(write_back, xs)
    vectorize_innermost(sch, write_back, lanes)
    unroll_taps = wl.shapes[1][3] <= MAX_UNROLLED_TAPS
    for block, first in _partition_columns(sch, xi, tiles):
        cols, rc, ry, rx, yi, fi = sch.get_loops(block)[-6:]
        if first:
            xo, cols = sch.split(cols, [None, tiles.cols])
        sch.reorder(rc, ry, rx, yi, cols, fi)
        sch.vectorize(fi)
        sch.unroll(cols)
        sch.unroll(yi)
        if unroll_taps:
            sch.unroll(rx)
        sch.decompose_reduction(block, rc)


def _partition_columns(sch, loop, tiles):
    """Partition a segment's column loop into its whole tiles (one loop, to be split) and
    one loop per short tile; yields ``(block, is_the_whole_tiles_loop)``."""
    whole = tiles.whole
    parts = ([tiles.cols * whole] if whole else []) + [tiles.cols - 1] * tiles.short
    if len(parts) == 1:
        yield sch.get_sblock(CONV), whole > 0
        return
    var = sch.get(loop).loop_var.name
    sch.loop_partition(loop, parts[:-1] + [None])
    for index in range(len(parts)):
        yield sch.get_sblock(partitioned_block_name(CONV, var, index)), index == 0 and whole > 0


def _pack_weight(sch, acc, ocb, lanes):
    """Copy the weight into ``ocb``-channel panels, looping in the packed order: a loop in
    the weight's own order scatters every store 8 floats apart (ResNet-18's 512-channel
    layer spent a quarter of its time there)."""
    pack = sch.cache_read(acc, 1, "global")
    sch.transform_layout(acc, ("read", 1), lambda f, c, r, s: (f // ocb, c, r, s, f % ocb))
    f, c, r, s = sch.get_loops(pack)
    fo, fi = sch.split(f, [None, ocb])
    sch.reorder(fo, c, r, s, fi)
    fuse_parallel(sch, [fo, c])
    vectorize_innermost(sch, pack, lanes)
