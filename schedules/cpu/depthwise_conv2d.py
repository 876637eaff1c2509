"""CPU schedule for ``depthwise_conv2d``.

Depthwise layers do only KH*KW multiply-adds per output, so they are bound by memory
traffic, loads and FMA latency rather than FMA throughput:

1. **Padding fused per channel**: the zero-padded plane of a channel is built right before
   that channel is convolved (``compute_at``), so it is still in L1/L2 when it is read, and no
   padded copy of the whole tensor goes through memory.
2. **Strided layers read phase planes**: with a column stride ``s`` the per-channel plane is
   stored as ``s`` planes of every ``s``-th column (``[x % s, y, x // s]``), so the inputs of
   ``lanes`` consecutive outputs of one tap are one contiguous vector load instead of a gather
   of ``lanes`` separate elements (3x3 stride 2 on 96 x 112 x 112: 1.6x faster, 5x5 stride 2
   on 144 x 56 x 56: 2.3x). A strided
   layer without padding gets the same per-channel copy.
3. **Register tile** of ``rows`` output rows by ``cols`` columns, accumulating over the
   KH*KW taps: each tap is one broadcast weight times the tile's input vectors, several
   independent FMAs to hide their latency (:func:`tile_shape`).
4. **Unrolling** of the kernel width and the tile rows.
5. **Parallelism** over (batch, channel).
"""

from tvmprims.ops.depthwise_conv2d import CONV, PAD

from ..common import (accumulate_locally, divisor_at_most, find_block, fuse_parallel,
                      phase_planes, vector_lanes, vectorize_innermost)
from ..hardware import CpuParams, cpu_params

__all__ = ["schedule", "row_block", "tile_shape"]


def row_block(out_width, lanes, params=None):
    """Output columns per tile: the largest divisor of the width that is a whole number of
    vectors (at most ``params.depthwise_vectors``, four on AVX2), else the largest divisor
    up to that size (LLVM covers it with a vector and a shorter tail)."""
    limit = (params or CpuParams()).depthwise_vectors * lanes
    for factor in range(min(out_width, limit), 0, -1):
        if out_width % factor == 0 and factor % lanes == 0:
            return factor
    return divisor_at_most(out_width, limit)


def tile_shape(out_height, out_width, kernel_width, lanes, params=None):
    """``(rows, cols)`` of the register tile.

    A width that is a whole number of vectors gets one-vector tiles of several rows (a
    divisor of the height, at most ``kernel_width`` and ``params.fma_chains``), so that
    each tap feeds that many independent FMAs: 7x7 on 96 x 56 x 56 ran 2x faster with
    8 x 8 tiles than with 1 x 8 or 1 x 16, 3x3 on 32 x 112 x 112 1.5x faster with 2 x 8.
    Other widths (28, 14, 7) get one row of :func:`row_block` columns (a vector tail
    included): more rows of such tiles ran 1.5 to 3x slower.
    """
    params = params or CpuParams()
    cols = row_block(out_width, lanes, params)
    if cols % lanes:
        return 1, cols
    return divisor_at_most(out_height, max(1, min(params.fma_chains, kernel_width))), lanes


def schedule(sch, wl, target):
    lanes = vector_lanes(target, wl.dtype)
    params = cpu_params(target)
    _, _, oh, ow = wl.output_shape
    stride = wl["stride"][1]
    rows, cols = tile_shape(oh, ow, wl.shapes[1][3], lanes, params)
    write_back, acc = accumulate_locally(sch, CONV)
    plane_input = find_block(sch, PAD)
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
    sch.reverse_compute_at(write_back, xo)
    vectorize_innermost(sch, write_back, lanes)
    if plane_input is not None:
        sch.compute_at(plane_input, plane)
        vectorize_innermost(sch, plane_input, lanes)
    sch.decompose_reduction(acc, ry)
