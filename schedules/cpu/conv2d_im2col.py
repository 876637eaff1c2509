"""CPU schedule for ``conv2d_im2col`` (a GEMM per image and group on the patch matrix).

1. **im2col fused into packing**: the patch matrix is never stored row-major; its stage
   writes it directly in the panel layout ``[n, g, p // ni, k, p % ni]`` that the GEMM
   micro-kernel reads, padded with zeros to whole panels, in one parallel, vectorised pass
   (panel by panel, contiguous stores).
2. **Padding** of the image is a separate parallel, vectorised pass over x (C*H*W elements):
   as a bounds test inside the im2col pass (K*P elements, KH*KW times more) it made that
   pass about six times slower (1.7 ms vs 0.29 ms on ResNet-18's first 3x3 layer).
3. **Register-tiled GEMM** as ``schedules/cpu/matmul.py`` (shared code in
   ``schedules/gemm_tiling.py``): ``mi`` output channels x ``ni`` output pixels (two SIMD
   vectors) accumulate in registers over all ``C/groups * KH * KW`` taps; the weight is
   read in place (its matrix view is the OIHW memory order) as broadcast operands; the
   taps loop is unrolled by 4, the rows fully.
4. **Parallelism** over (image, group, channel tile, pixel tile).
5. **Epilogue fused**: the reshape to NCHW and the bias are folded into the store of each
   register tile (padded channels and pixels are never stored).
6. **Images as columns** where :func:`images_as_columns` says so: the per-image GEMMs of a
   batch on small planes are one GEMM whose columns are (image, pixel), so that only the
   batch's last panel is padded, not every image's.
7. **K-blocked** where K is long for M (``gemm_tiling.long_k_blocked``; groups of one):
   the GEMM is ``schedule_cpu_blocked_gemm``'s, the patch matrix computed into each packed
   K block of B (1024x14x14 -> 256: 0.360 -> 0.295 ms, ``docs/im2col_blocked.py``).
"""

import numpy as np

from tvmprims.ops.conv2d_im2col import CONV, GEMM, IM2COL, PAD, gemm_shape

from ..common import find_block, parallel_vectorized_stage, vector_lanes
from ..gemm_tiling import (cpu_tile_sizes, long_k_blocked, schedule_cpu_blocked_gemm,
                           schedule_cpu_gemm)
from ..hardware import CpuParams, cpu_cores, cpu_params

__all__ = ["schedule", "images_as_columns", "padded_columns", "STORE_COST", "PACK_COST"]


def schedule(sch, wl, target):
    images, groups, m, n, k = gemm_shape(wl)
    lanes = vector_lanes(target, wl.dtype)
    params = cpu_params(target)
    itemsize = np.dtype(wl.dtype).itemsize
    batch = 2
    if images_as_columns(images, m, n, k, lanes, params, itemsize):
        _view_images_as_columns(sch, n)
        batch, n = 1, images * n
    if groups == 1 and long_k_blocked(m, k, params):
        _write_back_by_gemm_columns(sch, wl, batch)
        schedule_cpu_blocked_gemm(sch, GEMM, lanes, m, n, k, cpu_cores(target), params,
                                  itemsize, batch=batch, inline_a=True)
    else:
        schedule_cpu_gemm(sch, GEMM, lanes, m, n, k, batch=batch, inline_a=True,
                          params=params, cores=cpu_cores(target))
    pad = find_block(sch, PAD)
    if pad is not None:
        parallel_vectorized_stage(sch, pad, lanes, parallel_loops=2)


#: What images as columns cost beyond the GEMM, in multiply-adds: each element of C
#: (:data:`STORE_COST`) and of B (:data:`PACK_COST`) is stored, and B packed, element by
#: element, since a tile's columns may straddle two images. Fitted on an Intel Xeon (two
#: cores, AVX-512; kernels, ms, per image -> images as columns (torch);
#: ``PYTHONPATH=docs:. python docs/images_as_columns.py``): taken, 8x512x7x7 -> 2048 3.03 -> 2.62
#: (2.42), 4x512x7x7 -> 2048 1.52 -> 1.41 (1.33), 8x192x7x7 -> 1152 0.570 -> 0.544 (0.609),
#: 8x320x7x7 -> 1280 1.12 -> 1.10, 8x256x7x7 -> 768 0.506 -> 0.497, 4x128x1x1 -> 512 0.033 ->
#: 0.010 (0.067), 16x512x1x1 -> 1000 0.90 -> 0.059 (0.34); not taken, 8x256x7x7 -> 512 0.376
#: -> 0.389, 8x576x7x7 -> 160 (too few rows to repay packing B element by element) 0.250 ->
#: 0.362, 8x128x14x14 -> 512 0.665 -> 0.751, 8x64x14x14 -> 1024 0.667 -> 0.875, and one miss,
#: 8x96x3x3 -> 640 0.052 -> 0.041.
STORE_COST = 32
PACK_COST = 90


def padded_columns(m, n, k, lanes, params):
    """Columns of a GEMM of ``n`` columns once padded to whole register tiles."""
    ni = cpu_tile_sizes(m, n, k, lanes, params)[1]
    return -(-n // ni) * ni


def images_as_columns(images, m, n, k, lanes, params=None, itemsize=4):
    """Whether the ``images`` GEMMs (``m x k`` by ``k x n``, per image and group) run as one
    GEMM of ``images * n`` columns: when the multiply-adds it saves on padded columns
    (``m * k`` per column) exceed what storing C and packing B element by element costs
    (:data:`STORE_COST`, :data:`PACK_COST`), and all of the batch's B fits in
    ``params.gemm_in_l2_bytes`` (beyond, the GEMM's tiles would sweep it from memory:
    8x1152x7x7 -> 320 1.00 -> 1.58 ms)."""
    params = params or CpuParams()
    if images < 2:
        return False
    columns = images * n
    fused = padded_columns(m, columns, k, lanes, params)
    saved = images * padded_columns(m, n, k, lanes, params) - fused
    fits = k * fused * itemsize <= params.gemm_in_l2_bytes
    return fits and saved * m * k > (STORE_COST * m + PACK_COST * k) * columns


def _write_back_by_gemm_columns(sch, wl, batch):
    """Iterate the reshape of the GEMM's result to NCHW (stage ``conv``) as the GEMM's
    result is laid out, ``(n, g, f, p)`` (or ``(g, f, n * P + p)`` with the images as
    columns), so that the part of it a block of C needs is exact: over ``(y, x)`` a block
    of columns is not a rectangle, and TVM would widen it to one, storing columns not yet
    computed."""
    _, per_group, pixels, _ = gemm_shape(wl)[1:]
    width = wl.output_shape[3]
    conv = sch.get_sblock(CONV)
    if batch == 2:
        sch.transform_block_layout(
            conv, lambda b, f, y, x: (b, f // per_group, f % per_group, y * width + x))
    else:
        sch.transform_block_layout(
            conv, lambda b, f, y, x: (f // per_group, f % per_group, b * pixels + y * width + x))


def _view_images_as_columns(sch, pixels):
    """Lay out the patch matrix ``[n, g, k, p]`` and the GEMM's result ``[n, g, f, p]`` with
    column ``n * pixels + p``, and iterate both blocks so, the image loop gone."""
    cols, gemm = sch.get_sblock(IM2COL), sch.get_sblock(GEMM)
    for block in (cols, gemm):
        sch.transform_layout(block, ("write", 0),
                             lambda b, g, r, p: (g, r, b * pixels + p))
    sch.transform_block_layout(cols, lambda b, g, r, p: (g, r, b * pixels + p))
    sch.transform_block_layout(gemm, lambda b, g, f, p, r: (g, f, b * pixels + p, r))
