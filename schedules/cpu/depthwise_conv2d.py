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

Rows shorter than a vector under long windows (5x5 on 7x7 and 14x14 planes) get
**channel-vector tiles** instead (:func:`channel_vector_tile`): a vector of ``lanes``
channels per output pixel, so that no lane is idle however short the row.
"""

import numpy as np

from tvmprims.ops.depthwise_conv2d import CONV, PAD

from ..common import (LONG_WINDOW, accumulate_locally, find_block, fuse_parallel, row_block,
                      schedule_sliding_window, tile_shape, vector_lanes)
from ..hardware import cpu_model, cpu_params

__all__ = ["schedule", "row_block", "tile_shape", "channel_vector_tile",
           "channel_vector_shape"]


def schedule(sch, wl, target):
    lanes = vector_lanes(target, wl.dtype)
    model = cpu_model(target)
    tile = channel_vector_tile(wl, lanes, model.params, model.caches.l1d_bytes)
    if tile is not None:
        _schedule_channel_vectors(sch, wl, lanes, *tile)
        return
    _, _, oh, ow = wl.output_shape
    rows, cols = tile_shape(oh, ow, wl.shapes[1][3], lanes, model.params)
    schedule_sliding_window(sch, CONV, PAD, wl["stride"][1], rows, cols, lanes,
                            unroll_rows=False)


#: Narrowest vector (bytes) given channel-vector tiles: measured on AVX-512 only (on AVX2 a
#: 7-wide row fills 7 of a row tile's 8 lanes, so there is less to win).
MEASURED_VECTOR_BYTES = 64


def channel_vector_tile(wl, lanes, params, l1d_bytes):
    """``(rows, cols)`` of the channel-vector tiles of ``wl``
    (:func:`_schedule_channel_vectors`), or None for the row tiles of
    :func:`~tvmprims.schedules.common.schedule_sliding_window`.

    Taken on vectors of :data:`MEASURED_VECTOR_BYTES` or more when an output row is shorter
    than a vector (the row tiles then leave lanes idle and assemble rows from partial
    loads), the window at least :data:`LONG_WINDOW` columns wide (the per-block transposing
    copies of input and output cost too much for 3x3: 0.8 to 0.9x), the channels a multiple
    of the vector without a multiplier, and a block's padded input (``lanes`` channels)
    within L1d. The tile: ``cols`` pixels of a row (a
    divisor of the width) by ``rows`` rows, at most ``params.conv2d_one_vector_registers``
    vector accumulators. Measured on an Intel Xeon (kernel, us, row tiles -> these; torch):
    5x5 on 1152x7x7 58 -> 26 (65), at batch 8 448 -> 206 (276); 5x5 stride 2 on 672x14x14
    49 -> 30, at batch 8 383 -> 232 (356); 5x5 on 480x14x14 42 -> 36; 3x3 on 960x7x7 15 -> 17
    and 576x14x14 30 -> 32 (so not taken); 5x5 stride 2 on 672x28x28, a 64 KiB block, 86 ->
    106 (not taken) (``docs/depthwise_channel_vectors.py``).
    """
    (_, c, h, w), (o, _, kh, kw) = wl.shapes[0], wl.shapes[1]
    _, _, oh, ow = wl.output_shape
    pt, pb, pl, pr = wl["padding"]
    itemsize = np.dtype(wl.dtype).itemsize
    block_bytes = lanes * (h + pt + pb) * (w + pl + pr) * itemsize
    if (lanes * itemsize < MEASURED_VECTOR_BYTES or o != c or c % lanes or ow >= lanes
            or kw < LONG_WINDOW or block_bytes > l1d_bytes):
        return None
    return channel_vector_shape(oh, ow, params.conv2d_one_vector_registers)


def channel_vector_shape(out_height, out_width, budget):
    """``(rows, cols)`` of a channel-vector tile of at most ``budget`` accumulators: the
    widest divisor of the width, then the most rows (a divisor of the height) that fit."""
    cols = max(d for d in range(1, min(out_width, budget) + 1) if out_width % d == 0)
    rows = max(d for d in range(1, out_height + 1)
               if out_height % d == 0 and d * cols <= budget)
    return rows, cols


def _schedule_channel_vectors(sch, wl, lanes, rows, cols):
    """Channel-vector tiles: ``rows x cols`` output pixels, each a vector of ``lanes``
    channels, accumulated over the window; each tap is a vector of weights (one per channel)
    times the tile's input vectors. Per (image, block of ``lanes`` channels), parallel: the
    block's padded input is copied channels innermost (``[y, x, c % lanes]``) and its
    weights likewise (``[ry, rx, c % lanes]``), and each tile's write-back transposes it to
    the NCHW output (through the epilogue)."""
    write_back, acc = accumulate_locally(sch, CONV)
    sch.transform_layout(acc, ("write", 0),
                         lambda n, f, y, x: (n, f // lanes, y, x, f % lanes))
    image = find_block(sch, PAD)
    if image is None:
        image = sch.cache_read(acc, 0, "global")
    sch.transform_layout(image, ("write", 0),
                         lambda n, c, y, x: (n, c // lanes, y, x, c % lanes))
    weight = sch.cache_read(acc, 1, "global")
    sch.transform_layout(weight, ("write", 0),
                         lambda f, one, r, s: (f // lanes, one, r, s, f % lanes))
    n, f, y, x, ry, rx = sch.get_loops(acc)
    fo, fi = sch.split(f, [None, lanes])
    yo, yi = sch.split(y, [None, rows])
    xo, xi = sch.split(x, [None, cols])
    sch.reorder(n, fo, yo, xo, ry, rx, yi, xi, fi)
    block = fuse_parallel(sch, [n, fo])
    sch.vectorize(fi)
    sch.unroll(xi)
    sch.unroll(yi)
    sch.unroll(rx)
    sch.reverse_compute_at(write_back, xo)
    for stage in (image, weight):
        sch.compute_at(stage, block)
        channel, *rest = sch.get_loops(stage)[1:]
        sch.reorder(*rest, channel)
        sch.vectorize(channel)
    sch.decompose_reduction(acc, ry)
