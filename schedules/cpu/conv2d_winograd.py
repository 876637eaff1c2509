"""CPU schedule for ``conv2d_winograd`` (F(m x m, 3 x 3), see :mod:`tvmprims.ops.conv2d_winograd`).

1. **Batched GEMM micro-kernel**: each of the alpha^2 products ``M = U V`` (O x C times
   C x P) is cut into ``mi x ni`` register tiles: ``ni`` Winograd tiles (two SIMD vectors,
   contiguous in ``V`` and ``M``) by ``mi`` output channels. Each step of the channel
   reduction is ``mi`` broadcasts of ``U`` against ``ni / lanes`` vector loads of ``V``;
   the accumulators stay in registers over all input channels and are stored once.
2. **Whole vectors only, V packed**: the tile count P is padded to a multiple of ``ni``
   (``pad_einsum``); for each (xi, nu, tile column) the C x ``ni`` panel of V is copied,
   zero-filled past P, into a contiguous buffer right before the micro-kernels that read it
   (O / ``mi`` times, from L1). No vector loop carries a predicate (a predicate, or a
   ragged width such as 14, makes LLVM scalarise the micro-kernel); the padded tiles of M
   are never read.
3. **Transforms unrolled and vectorised**: the alpha x alpha loops of the input, filter and
   output transforms are unrolled, so each coefficient select folds to a constant and only
   the nonzero terms remain (``+-1`` as adds); neighbouring tiles of a tile row (input and
   output transforms) or input channels (filter transform) are the SIMD lanes.
4. **Fusion**: the row pass of each separable transform is computed per vector of tiles
   right where the column pass consumes it (``compute_at``, an L1-resident scratch), and
   the output transform is computed per row of tiles inside the crop, so its whole-tile
   result never goes to memory; the bias is added in the same store.
5. **Parallelism** over (input channel, tile row) for the input transform, over (xi, nu,
   GEMM tile) for the GEMM, over output channels for the filter transform and the output.
6. **Padding** is computed per tile row (its alpha padded rows, zeros past the edges for
   partial tiles) right before that row's input transform reads it from L1.
7. **Tile columns by shuffles**: the input transform's lanes are neighbouring tiles, whose
   elements lie m apart in a row, and so do the output transform's results. Element by
   element (a lane insert or extract each) that gather and scatter took over half of the
   kernel; the ``input_columns`` and ``output_transform`` stages now move whole rows with
   vector shuffles (:mod:`..lane_shuffles`, ``tensorize``) when a vector holds at least a
   quarter of the target's lanes of tiles (:func:`shuffled`).
"""

from tvmprims._tvm import padded_name
from tvmprims.ops.conv2d_winograd import (BATCH_GEMM, BIAS_ADD, CROP, INPUT_COLUMNS, INPUT_ROWS,
                                          INPUT_TRANSFORM, OUTPUT_COLUMNS, OUTPUT_ROWS,
                                          OUTPUT_TRANSFORM, PAD, WEIGHT_ROWS, WEIGHT_TRANSFORM,
                                          tiling)

from ..common import (divisor_at_most, find_block, fuse_parallel, loop_extent,
                      vector_lanes, vectorize_innermost)
from ..hardware import CpuParams, cpu_params
from ..lane_shuffles import deinterleave, interleave

__all__ = ["schedule", "gemm_tiles", "schedule_weight_transform"]


def gemm_tiles(o, tiles, lanes, params=None):
    """``(mi, ni)``: output channels and Winograd tiles of a GEMM register tile: two vectors
    of tiles (one when there are few), ``mi`` filling the register budget
    (``params.winograd_registers``: the target's
    :class:`~tvmprims.schedules.hardware.CpuParams`, AVX2's by default)."""
    budget = (params or CpuParams()).winograd_registers
    vectors = 2 if tiles > lanes else 1
    return divisor_at_most(o, budget // vectors), vectors * lanes


def shuffled(tile_lanes, lanes):
    """Whether vectors of ``tile_lanes`` Winograd tiles (of at most ``lanes``, the target's)
    gather and scatter their tiles' columns with vector shuffles (:mod:`..lane_shuffles`):
    from a quarter of a vector on; narrower ones read and write element by element."""
    return tile_lanes * 4 >= lanes and tile_lanes > 1


def _vectorize_split(sch, loop, lanes):
    """Split ``loop`` by the largest divisor of its extent up to ``lanes`` (no predicate) and
    vectorise the inner part; returns the outer loop."""
    outer, inner = sch.split(loop, [None, divisor_at_most(loop_extent(sch, loop), lanes)])
    sch.vectorize(inner)
    return outer


def _row_pass_at(sch, name, loop, lanes):
    """Compute the first (row) pass ``name`` of a transform at ``loop`` of its consumer: its
    two alpha-sized loops unrolled, the innermost one vectorised."""
    rows = sch.get_sblock(name)
    sch.compute_at(rows, loop, preserve_unit_loops=True)
    r_a, r_b, r_vec = sch.get_loops(rows)[-3:]
    sch.unroll(r_a)
    sch.unroll(r_b)
    _vectorize_split(sch, r_vec, lanes)


def schedule_gemm(sch, o, tiles, lanes, params=None):
    """Register tiles ``mi x ni`` over all input channels, V packed per tile column;
    parallel over (xi, nu, tile column)."""
    mi, ni = gemm_tiles(o, tiles, lanes, params)
    block = sch.get_sblock(BATCH_GEMM)
    if tiles % ni:
        sch.pad_einsum(block, [1, 1, 1, ni, 1])
        sch.compute_inline(sch.get_sblock(padded_name(BATCH_GEMM)))
        pack = sch.get_sblock(padded_name(INPUT_TRANSFORM))
    else:
        pack = sch.cache_read(block, 1, "global")
    # "local", not CPU_REGISTER_SCOPE: as a stack array this tile measured within 5% either
    # way (0.95x to 1.05x over ResNet-18's layers).
    write_back = sch.cache_write(block, 0, "local")
    xi, nu, f, p, c = sch.get_loops(block)
    po, pi = sch.split(p, [None, ni])
    fo, fi = sch.split(f, [None, mi])
    sch.reorder(xi, nu, po, fo, c, fi, pi)
    column = fuse_parallel(sch, [xi, nu, po])
    sch.unroll(fi)
    sch.vectorize(pi)
    sch.reverse_compute_at(write_back, fo)
    vectorize_innermost(sch, write_back, ni)
    sch.compute_at(pack, column, preserve_unit_loops=True)
    vectorize_innermost(sch, pack, ni)
    sch.decompose_reduction(block, c)


def schedule_input_transform(sch, wl, lanes):
    """V per (channel, tile row): vectors of neighbouring tiles, alpha x alpha unrolled, the
    row pass computed per vector right before it is consumed."""
    n, _, th, tw, _ = (wl.shapes[0][0],) + tiling(wl)[1:]
    block = sch.get_sblock(INPUT_TRANSFORM)
    xi, nu, c, p = sch.get_loops(block)
    b, ty, tx = sch.split(p, [n, th, tw])
    txo, txi = sch.split(tx, [None, divisor_at_most(tw, lanes)])
    sch.reorder(c, b, ty, txo, xi, nu, txi)
    tile_row = fuse_parallel(sch, [c, b, ty])
    sch.unroll(xi)
    sch.unroll(nu)
    sch.vectorize(txi)
    _row_pass_at(sch, INPUT_ROWS, txo, lanes)
    columns = sch.get_sblock(INPUT_COLUMNS)
    tile_lanes = loop_extent(sch, txi)
    shuffles = shuffled(tile_lanes, lanes)
    if shuffles:
        sch.compute_at(columns, txo, preserve_unit_loops=True)
    else:
        sch.compute_inline(columns)
    pad = find_block(sch, PAD)
    if pad is not None:
        schedule_padding(sch, pad, tile_row, lanes)
    # last: TVM fails to compute the padding at its loop once its consumer is tensorized
    if shuffles:
        m, alpha = tiling(wl)[:2]
        sch.tensorize(sch.get_loops(columns)[-2],
                      deinterleave(m, alpha, tile_lanes, wl.dtype, lanes))


def schedule_padding(sch, pad, tile_row, lanes):
    """The padded input per tile row (its alpha rows, recomputed where tile rows overlap),
    right before the row's input transform reads it from L1, instead of one parallel pass
    over the whole image: Xeon, ms, ResNet-18's 64x56x56 0.450 -> 0.429, VGG's 256x56x56
    4.49 -> 4.36, batch 8 64x56x56 3.92 -> 3.76, VGG's 64x224x224 7.69 -> 7.72
    (``PYTHONPATH=docs:. python docs/winograd_shuffles.py``)."""
    sch.compute_at(pad, tile_row, preserve_unit_loops=True)
    vectorize_innermost(sch, pad, lanes)


def schedule_output(sch, wl, lanes):
    """Crop (+ bias) per (image, channel, tile row); the output transform and its row pass
    computed there, vectorised over the tiles of the row."""
    m, _, _, tw, _ = tiling(wl)
    bias = find_block(sch, BIAS_ADD)
    if bias is not None:
        sch.reverse_compute_inline(bias)
    crop = sch.get_sblock(CROP)
    b, f, y, x = sch.get_loops(crop)
    ty, yi = sch.split(y, [None, m])
    fuse_parallel(sch, [b, f])
    vectorize_innermost(sch, crop, lanes)
    tiles = sch.get_sblock(OUTPUT_TRANSFORM)
    sch.compute_at(tiles, ty, preserve_unit_loops=True)
    columns = sch.get_sblock(OUTPUT_COLUMNS)
    tile_lanes = divisor_at_most(tw, lanes)
    if shuffled(tile_lanes, lanes):
        sch.compute_at(columns, ty, preserve_unit_loops=True)
        i, tx, _ = sch.get_loops(tiles)[-3:]
        sch.unroll(i)
        _, txi = sch.split(tx, [None, tile_lanes])
        sch.tensorize(txi, interleave(m, tile_lanes, wl.dtype, lanes))
        i, j, tx = sch.get_loops(columns)[-3:]
    else:
        sch.compute_inline(columns)
        i, tx, j = sch.get_loops(tiles)[-3:]
        sch.reorder(i, j, tx)
    sch.unroll(i)
    sch.unroll(j)
    _vectorize_split(sch, tx, lanes)
    _row_pass_at(sch, OUTPUT_ROWS, ty, lanes)


def schedule_weight_transform(sch, lanes):
    """U = G g G^T per output channel, vectors of input channels, alpha x alpha unrolled."""
    block = sch.get_sblock(WEIGHT_TRANSFORM)
    xi, nu, o, c = sch.get_loops(block)
    co, ci = sch.split(c, [None, divisor_at_most(loop_extent(sch, c), lanes)])
    sch.reorder(o, co, xi, nu, ci)
    sch.parallel(o)
    sch.unroll(xi)
    sch.unroll(nu)
    sch.vectorize(ci)
    _row_pass_at(sch, WEIGHT_ROWS, co, lanes)


def schedule(sch, wl, target):
    lanes = vector_lanes(target, wl.dtype)
    _, o, _, _ = wl.output_shape
    if not wl["pretransformed"]:
        schedule_weight_transform(sch, lanes)
    schedule_input_transform(sch, wl, lanes)
    schedule_gemm(sch, o, tiling(wl)[-1], lanes, cpu_params(target))
    schedule_output(sch, wl, lanes)
