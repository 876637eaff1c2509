"""The blocked GEMM with 64-column blocks against one block of all of N
(`CpuParams.gemm_wide_block_bytes`; docs/BENCHMARKS.md, "Narrow blocks of B"). Usage:
`PYTHONPATH=. python docs/gemm_wide_block.py 1024x9216x257 512x4096x500 ...` (M x K x N; one
process per shape gives the figures there). Kernels only, interleaved, ms: the two variants of
`docs/gemm_params.py`, `gemm_wide_block_bytes=0` (64-column blocks) and `base` (one block
where it fits)."""

import sys

from gemm_params import matmuls
from schedule_variants import start

from tvmprims.schedules.hardware import cpu_model
from tvmprims.target import resolve_target


def main(shapes):
    start()
    matmuls(shapes, ["gemm_wide_block_bytes=0", "base"], cpu_model(resolve_target(None)).params)


if __name__ == "__main__":
    main(sys.argv[1:] or ["1024x9216x257"])
