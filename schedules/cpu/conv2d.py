"""CPU schedule for direct ``conv2d`` (NCHW, any stride, padding, dilation, groups).

1. **Weight packing**: the weight is re-laid out as ``W[o // ocb, c, kh, kw, o % ocb]`` so
   that ``ocb`` output channels of one tap are one contiguous SIMD load.
2. **Register blocking**: each tile computes ``ocb`` output channels (one or two vectors) by
   ``owb`` output columns of one row; its ``ocb/lanes * owb`` vector accumulators stay in
   registers over the whole reduction (C/groups x KH x KW). Every input element loaded is
   broadcast against ``ocb`` channels, which is why this works for any stride.
3. **Vectorisation and unrolling**: FMAs over output channels, columns and the kernel width
   (up to 7 taps) unrolled; tile sizes are divisors of the output width so no loop carries a
   predicate.
4. **Parallelism** over (batch, channel block, output row).
5. **Padding** is a separate parallel, vectorised pass (computing it inside the reduction
   would put a bounds test in the innermost loop).
"""

from ..common import (accumulate_locally, divisor_at_most, find_block, fuse_parallel,
                      parallel_vectorized_stage, vector_lanes, vectorize_innermost)

__all__ = ["schedule", "tile_sizes"]

#: Vector accumulators a tile may keep in registers (16 on AVX2, leaving room for operands).
REGISTER_BUDGET = 12

#: Widest kernel whose taps are unrolled. Wider ones stay a loop: fully unrolled 9- and 11-wide
#: rows ran 5 to 7 times slower (1x16x64x64, 16 filters: 4.95 against 1.0 ms at 9x9).
MAX_UNROLLED_WIDTH = 7


def tile_sizes(out_channels, out_width, lanes, channels_per_group=None):
    """``(ocb, owb)``: output channels (a multiple of ``lanes`` when possible) and columns."""
    limit = channels_per_group or out_channels
    best = None
    for vectors in (2, 1):
        ocb = vectors * lanes
        if limit % ocb:
            continue
        owb = divisor_at_most(out_width, REGISTER_BUDGET // vectors)
        if best is None or vectors * owb > best[0] * best[2]:
            best = (vectors, ocb, owb)
    if best is None:  # channel counts not a multiple of the vector width
        ocb = divisor_at_most(limit, lanes)
        return ocb, divisor_at_most(out_width, REGISTER_BUDGET)
    return best[1], best[2]


def schedule(sch, wl, target):
    lanes = vector_lanes(target, wl.dtype)
    _, o, _, ow = wl.output_shape
    groups = dict(wl.params).get("groups", 1)
    ocb, owb = tile_sizes(o, ow, lanes, o // groups if groups > 1 else None)
    write_back, acc = accumulate_locally(sch, "conv")
    # Channels innermost in the accumulator, as in the FMAs (see CPU_REGISTER_SCOPE).
    sch.transform_layout(acc, ("write", 0), lambda n, f, y, x: (n, y, x, f))
    pad = find_block(sch, "pad")
    if pad is not None:
        parallel_vectorized_stage(sch, pad, lanes, parallel_loops=2)

    n, f, y, x, rc, ry, rx = sch.get_loops(acc)
    fo, fi = sch.split(f, [None, ocb])
    xo, xi = sch.split(x, [None, owb])
    sch.reorder(n, fo, y, xo, rc, ry, rx, xi, fi)
    fuse_parallel(sch, [n, fo, y])
    sch.vectorize(fi)
    sch.unroll(xi)
    if wl.shapes[1][3] <= MAX_UNROLLED_WIDTH:
        sch.unroll(rx)
    sch.reverse_compute_at(write_back, xo)
    vectorize_innermost(sch, write_back, lanes)

    pack = sch.cache_read(acc, 1, "global")
    sch.transform_layout(acc, ("read", 1), lambda f_, c, r, s: (f_ // ocb, c, r, s, f_ % ocb))
    parallel_vectorized_stage(sch, pack, lanes, parallel_loops=2)
    sch.decompose_reduction(acc, rc)
