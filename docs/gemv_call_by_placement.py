"""The cost of a repeated small `tvmprims.matmul` (1x64 @ 64x1000, the GEMM sweep's
`M=1 K=64 N=1000`) against numpy, a minimal wrapper of the kernel (a new output and the TVM
call) and the kernel's raw TVM call on numpy arrays, with B placed 0 and 16 bytes past a
64-byte line (docs/BENCHMARKS.md, "Forked children ..."). Usage: `PYTHONPATH=. python
docs/gemv_call_by_placement.py [offset ...]`. Best single calls, us, settled and interleaved
(`tvmprims.timing.interleaved_best`, 15 rounds)."""

import sys

import numpy as np

import tvmprims
from tvmprims.testing import at_offset
from tvmprims.timing import interleaved_best


def main(offsets):
    rng = np.random.default_rng(0)
    a = rng.random((1, 64)).astype(np.float32)
    for offset in offsets:
        b = at_offset(rng.random((64, 1000)).astype(np.float32), offset)
        tvmprims.matmul(a, b)
        run = tvmprims.build("matmul", a.shape, b.shape).module["main"]
        out, shape, dtype = np.empty((1, 1000), np.float32), (1, 1000), np.dtype(np.float32)

        def minimal(a, b):
            result = np.empty(shape, dtype)
            run(a, b, result)
            return result

        timed = {"numpy a @ b": lambda: a @ b, "tvmprims.matmul": lambda: tvmprims.matmul(a, b),
                 "minimal wrapper": lambda: minimal(a, b), "raw TVM call": lambda: run(a, b, out)}
        best = interleaved_best(list(timed.values()), rounds=15)
        figures = ", ".join(f"{name} {s * 1e6:.2f}" for name, s in zip(timed, best))
        print(f"B +{offset} bytes: {figures} us; numpy / tvmprims {best[0] / best[1]:.3f}",
              flush=True)


if __name__ == "__main__":
    sys.exit(main([int(o) for o in sys.argv[1:]] or [0, 16]))
