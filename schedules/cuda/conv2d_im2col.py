"""CUDA schedule for ``conv2d_im2col`` (a GEMM per image and group on the patch matrix).

1. **Tiled GEMM** as ``schedules/cuda/matmul.py`` (shared code in
   ``schedules/gemm_tiling.py``): a thread block computes a tile of output channels x output
   pixels of one image and group (``blockIdx.x`` also runs over images and groups); each
   thread accumulates a 4 x 4 register tile (``local``, unrolled) over all
   ``C/groups * KH * KW`` taps, walked in chunks of about 16.
2. **Implicit im2col**: the patch matrix never exists in global memory. Per chunk of taps the
   block copies its ``BK x BN`` slice of the patch matrix into shared memory straight from x
   (the im2col indexing and the zero-padding stage are inlined into the cooperative fetch,
   a bounds test per fetched element, consecutive threads on consecutive pixels), and its
   ``BM x BK`` weight slice (the OIHW weight read in place as a matrix).
3. **Padding to whole tiles** (``pad_einsum``): channels, pixels and taps are rounded up to
   the tiles; the padded fetches are guarded and padded outputs never stored.
4. **Epilogue fused**: the reshape to NCHW and the bias are folded into each thread's store.
"""

from tvmprims.ops.conv2d_im2col import GEMM, PAD, gemm_shape

from ..common import find_block
from ..gemm_tiling import schedule_gpu_gemm
from ..hardware import gpu_model

__all__ = ["schedule"]


def schedule(sch, wl, target):
    _, _, m, n, k = gemm_shape(wl)
    pad = find_block(sch, PAD)
    if pad is not None:
        sch.compute_inline(pad)
    schedule_gpu_gemm(sch, GEMM, m, n, k, wl.dtype, batch=2, gpu=gpu_model(target))
