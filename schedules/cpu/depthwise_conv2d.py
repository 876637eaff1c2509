"""CPU schedule for ``depthwise_conv2d``.

Depthwise layers do only KH*KW multiply-adds per output, so they are bound by memory
traffic and loop overhead rather than FMAs:

1. **Padding fused per channel**: the zero-padded plane of a channel is built right before
   that channel is convolved (``compute_at``), so it is still in L1/L2 when it is read, and no
   padded copy of the whole tensor goes through memory.
2. **Vectorisation over output columns**: ``owb`` outputs of a row (a multiple of the SIMD
   width when the width allows, up to ``CpuParams.depthwise_vectors``; one vector for
   strided layers) accumulate in registers over
   the KH*KW taps, each tap a broadcast weight times a vector of inputs.
3. **Unrolling** of the kernel taps.
4. **Parallelism** over (batch, channel).
"""

from tvmprims.ops.depthwise_conv2d import CONV, PAD

from ..common import (accumulate_locally, divisor_at_most, find_block, fuse_parallel,
                      vector_lanes, vectorize_innermost)
from ..hardware import CpuParams, cpu_params

__all__ = ["schedule", "row_block"]


def row_block(out_width, lanes, stride=1, params=None):
    """Output columns per tile: the largest divisor of the width that is a whole number of
    vectors (at most ``params.depthwise_vectors``, four on AVX2; one when strided, since
    every strided vector load is a gather of separate elements), else the largest divisor
    up to that size."""
    vectors = (params or CpuParams()).depthwise_vectors
    limit = (1 if stride > 1 else vectors) * lanes
    for factor in range(min(out_width, limit), 0, -1):
        if out_width % factor == 0 and factor % lanes == 0:
            return factor
    return divisor_at_most(out_width, limit)


def schedule(sch, wl, target):
    lanes = vector_lanes(target, wl.dtype)
    _, _, _, ow = wl.output_shape
    owb = row_block(ow, lanes, wl["stride"][1], cpu_params(target))
    write_back, acc = accumulate_locally(sch, CONV)
    n, f, y, x, ry, rx = sch.get_loops(acc)
    xo, xi = sch.split(x, [None, owb])
    sch.reorder(n, f, y, xo, ry, rx, xi)
    plane = fuse_parallel(sch, [n, f])
    sch.vectorize(xi)
    sch.unroll(rx)
    sch.reverse_compute_at(write_back, xo)
    vectorize_innermost(sch, write_back, lanes)
    pad = find_block(sch, PAD)
    if pad is not None:
        sch.compute_at(pad, plane)
        vectorize_innermost(sch, pad, lanes)
    sch.decompose_reduction(acc, ry)
