"""CUDA schedule for ``conv2d_fft`` (DFT-as-GEMM convolution, see :mod:`tvmprims.ops.conv2d_fft`).

Each stage is its own kernel (the stages are separated by whole-tensor dependencies: a
transform along H needs every row of the transform along W).

1. **Every stage bound**: the cos/sin tables and twiddle matrices are element-wise kernels,
   one thread per element; each GEMM stage gets one thread per output element (or per small
   register tile, below), its spatial loops fused and split over ``blockIdx.x`` x
   ``threadIdx.x`` (:data:`THREADS` per block, the last block guarded).
2. **Coalescing**: the frequency-bin axis (``KX``, a multiple of 8) or the output column is
   the fastest-varying index of the fused loop, so a warp reads 32 consecutive bins of the
   data operand and stores 32 consecutive outputs; the twiddle operand is the same for the
   whole warp (a broadcast).
3. **Register accumulators**: a thread accumulates its tile in ``local`` memory (registers,
   unrolled) over the whole reduction and stores it once: the real and imaginary part of a
   bin together (both read the same operands), and in the channel products a tile of up to
   :data:`PRODUCT_ROWS` output channels of one group, so each input-spectrum value loaded
   serves that many complex multiply-adds.
4. **Epilogue folded**: the bias is added by the last stage's register write-back.

Shared memory is not used: every operand the threads of a block share is a broadcast
(twiddles) or a single use per thread (the filter spectrum in the channel products), which the
L1 cache already serves.
"""

from tvmprims.ops.conv2d_fft import (BIAS_ADD, DFT_X, DFT_Y, FILTER_X, FILTER_Y, IDFT_X, IDFT_Y,
                                     PRODUCT, TWIDDLE_STAGES)

from ..common import divisor_at_most, find_block
from ..gpu_tiling import GpuTiling, finish_gpu_reduction

__all__ = ["schedule", "bind_elementwise", "bind_gemm", "THREADS", "PRODUCT_ROWS"]

#: Threads per block.
THREADS = 128
#: Output channels per thread in the channel products.
PRODUCT_ROWS = 4

#: ``(part, row)``: positions of the re/im axis and of the register-tiled row axis.
GEMM_STAGES = {
    DFT_X: (3, None),
    DFT_Y: (3, None),
    FILTER_X: (3, None),
    FILTER_Y: (3, None),
    PRODUCT: (3, 1),
    IDFT_Y: (3, None),
    IDFT_X: (None, None),
}


def bind_elementwise(sch, block, threads=THREADS):
    """All loops of ``block`` fused and split over blocks x threads."""
    loops = sch.get_loops(block)
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    bx, tx = sch.split(fused, [None, threads])
    sch.bind(bx, "blockIdx.x")
    sch.bind(tx, "threadIdx.x")


def bind_gemm(sch, name, part=None, row=None, rows=1, threads=THREADS):
    """One thread per output (times the ``part`` axis and ``rows`` of axis ``row``, its
    register tile), register accumulators, bias folded into the write-back."""
    block = sch.get_sblock(name)
    write_back = sch.cache_write(block, 0, "local")
    epilogue = find_block(sch, BIAS_ADD)
    if name == IDFT_X and epilogue is not None:
        sch.reverse_compute_inline(epilogue)
    loops = sch.get_loops(block)
    kinds = [iv.iter_type for iv in sch.get(block).iter_vars]
    spatial = [lp for lp, k in zip(loops, kinds) if k == 0]
    reduction = [lp for lp, k in zip(loops, kinds) if k != 0]
    inner = []
    if row is not None and rows > 1:
        spatial[row], ri = sch.split(spatial[row], [None, rows])
        inner.append(ri)
    if part is not None:
        inner.append(spatial[part])
    outer = [lp for i, lp in enumerate(spatial) if i != part]
    sch.reorder(*outer, *reduction, *inner)
    fused = sch.fuse(*outer) if len(outer) > 1 else outer[0]
    bx, tx = sch.split(fused, [None, threads])
    sch.bind(bx, "blockIdx.x")
    sch.bind(tx, "threadIdx.x")
    for lp in inner:
        sch.unroll(lp)
    finish_gpu_reduction(sch, block, write_back, GpuTiling(bx, tx, [], reduction, inner))


def schedule(sch, wl, target):
    per_group = wl.shapes[1][0] // wl["groups"]
    for name in TWIDDLE_STAGES:
        bind_elementwise(sch, sch.get_sblock(name))
    for name, (part, row) in GEMM_STAGES.items():
        # A tile of output channels stays within a group (they share the input spectrum).
        rows = divisor_at_most(per_group, PRODUCT_ROWS) if row is not None else 1
        bind_gemm(sch, name, part, row, rows)
