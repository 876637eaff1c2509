"""The cost of a repeated small `tvmprims.matmul` against numpy and against its kernel's raw TVM
call (docs/BENCHMARKS.md, "The plain matmul call"). Usage: `PYTHONPATH=. python
docs/plain_matmul_call.py`. Best of 30 interleaved blocks of 3000 calls each, us."""

import sys
import timeit

import numpy as np

import tvmprims


def main(blocks=30, calls=3000):
    a = np.random.rand(1, 64).astype(np.float32)
    b = np.random.rand(64, 1000).astype(np.float32)
    tvmprims.matmul(a, b)
    kernel = tvmprims.build("matmul", a.shape, b.shape)
    out = np.empty((1, 1000), np.float32)
    run = kernel.module["main"]
    timed = {"numpy a @ b": lambda: a @ b,
             "tvmprims.matmul": lambda: tvmprims.matmul(a, b),
             "raw TVM call": lambda: run(a, b, out)}
    best = dict.fromkeys(timed, float("inf"))
    for _ in range(blocks):
        for name, fn in timed.items():
            best[name] = min(best[name], timeit.timeit(fn, number=calls) / calls)
    print(f"kernel alone (Kernel.time): {kernel.time(a, b, number=20000).seconds * 1e6:.2f} us")
    for name, seconds in best.items():
        print(f"{name}: {seconds * 1e6:.2f} us")


if __name__ == "__main__":
    sys.exit(main())
