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
"""

from tvmprims.ops.conv2d_im2col import GEMM, PAD, gemm_shape

from ..common import find_block, parallel_vectorized_stage, vector_lanes
from ..gemm_tiling import schedule_cpu_gemm
from ..hardware import cpu_cores, cpu_params

__all__ = ["schedule"]


def schedule(sch, wl, target):
    _, _, m, n, k = gemm_shape(wl)
    lanes = vector_lanes(target, wl.dtype)
    schedule_cpu_gemm(sch, GEMM, lanes, m, n, k, batch=2, inline_a=True,
                      params=cpu_params(target), cores=cpu_cores(target))
    pad = find_block(sch, PAD)
    if pad is not None:
        parallel_vectorized_stage(sch, pad, lanes, parallel_loops=2)
