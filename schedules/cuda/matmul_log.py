"""CUDA schedule for ``matmul_log`` (log-domain matrix product, exact or approximate).

1. **Tiled reduction** as ``schedules/cuda/matmul.py`` (shared code in
   ``schedules/gemm_tiling.py``): a thread block computes a tile of C, each thread a 4 x 4
   register tile (``local``, unrolled) accumulated over all of K in chunks of about 16.
2. **Log conversion inside the shared-memory fetch**: per K chunk the block stages the signs
   and logs of its A and B tiles in shared memory, converting each fetched element on the
   way (``log2``, the zero flag, the quantisation of the approximate method): the converted
   operands never exist in global memory, and the exact product is one kernel.
3. **Approximate method**: thread blocks also run over the ``2^bits`` remainder bins (one
   partial sum per bin, integer adds and an exponent-field construction in the inner loop);
   the small table of the bins' constants is a one-block kernel, and the final combination
   (``sum_r partial[r] * table[r]``) a kernel with one thread per output, consecutive
   threads on consecutive columns.
"""

from tvmprims.ops.matmul_log import B_STAGES, LOG_TABLE, MATMUL_LOG, PARTIAL

from ..gemm_tiling import reads_named, schedule_gpu_gemm
from ..hardware import gpu_model

__all__ = ["schedule"]

#: Threads per block of the combination kernel.
COMBINE_THREADS = 256


def schedule(sch, wl, target):
    (m, k), (_, n) = wl.shapes
    gpu = gpu_model(target)
    name = MATMUL_LOG if wl["bits"] is None else PARTIAL
    schedule_gpu_gemm(sch, name, m, n, k, wl.dtype, b_reads=reads_named(sch, name, B_STAGES),
                      gpu=gpu)
    if wl["bits"] is None:
        return
    assert (1 << wl["bits"]) <= gpu.max_threads_per_block
    (rem,) = sch.get_loops(sch.get_sblock(LOG_TABLE))
    sch.bind(rem, "threadIdx.x")  # one block, a thread per entry
    combine = sch.get_sblock(MATMUL_LOG)
    i, j, _ = sch.get_loops(combine)
    fused = sch.fuse(i, j)
    block, thread = sch.split(fused, [None, min(COMBINE_THREADS, m * n)])
    sch.bind(block, "blockIdx.x")
    sch.bind(thread, "threadIdx.x")
