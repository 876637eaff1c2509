"""The blocked GEMM with 64-column blocks against one block of all of N
(`CpuParams.gemm_wide_block_bytes`; docs/BENCHMARKS.md, "Narrow blocks of B"). Usage:
`PYTHONPATH=. python docs/gemm_wide_block.py 1024x9216x257 512x4096x500 ...` (M x K x N; one
process per shape gives the figures there). Kernels only, interleaved, ms."""

import dataclasses
import os
import sys

import numpy as np


def main(shapes):
    os.environ["TVMPRIMS_KERNEL_CACHE"] = "off"  # both variants come from the same sources
    import tvmprims
    from tvmprims.build import build_workload
    from tvmprims.ops import matmul as matmul_op
    from tvmprims.schedules.hardware import cpu_model, cpu_params_override
    from tvmprims.target import resolve_target
    from tvmprims.timing import interleaved_best
    base = cpu_model(resolve_target(None)).params
    for shape in shapes:
        m, k, n = map(int, shape.split("x"))
        a = np.random.rand(m, k).astype(np.float32)
        b = np.random.rand(k, n).astype(np.float32)
        expected = a.astype(np.float64) @ b
        kernels = []
        for budget in (0, base.gemm_wide_block_bytes):
            tvmprims.clear_cache()
            with cpu_params_override(dataclasses.replace(base, gemm_wide_block_bytes=budget)):
                kernel = build_workload(matmul_op.workload(a.shape, b.shape), None, "hand")
            assert np.abs(kernel(a, b) - expected).max() <= 1e-5 * np.abs(expected).max()
            kernels.append(kernel)
        t = interleaved_best([lambda: kernels[0](a, b), lambda: kernels[1](a, b),
                              lambda: a @ b], rounds=4)
        print(f"{shape}: 64-column blocks {t[0] * 1e3:.2f} ms ({t[2] / t[0]:.2f}x numpy), "
              f"one block {t[1] * 1e3:.2f} ({t[2] / t[1]:.2f}x), numpy {t[2] * 1e3:.2f}",
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["1024x9216x257"])
