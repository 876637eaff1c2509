"""The cost of a repeated small `tvmprims.conv2d` (a 1x1 layer, 1x96x14x14 -> 40) through the
plain call path, through the general path (an explicit `algo=`), its kernel's raw TVM call and
torch (docs/BENCHMARKS.md, "Two FMAs a cycle"). Usage: `PYTHONPATH=. python
docs/plain_conv2d_call.py`. Best of 20 interleaved blocks of 500 calls each, us; torch runs in
blocks of its own (its threads spin after a call and would slow the next block's first calls)."""

import sys
import timeit

import numpy as np
import torch

import tvmprims


def main(blocks=20, calls=500):
    x = np.random.rand(1, 96, 14, 14).astype(np.float32)
    w = np.random.rand(40, 96, 1, 1).astype(np.float32)
    tvmprims.conv2d(x, w)
    kernel = tvmprims.build("conv2d_im2col", x.shape, w.shape)
    run = kernel.module["main"]
    shape = kernel.workload.output_shape
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    timed = {"tvmprims.conv2d (plain call)": lambda: tvmprims.conv2d(x, w),
             "tvmprims.conv2d(algo='im2col') (general path)":
                 lambda: tvmprims.conv2d(x, w, algo="im2col"),
             "raw TVM call, new output": lambda: run(x, w, np.empty(shape, np.float32))}
    best = dict.fromkeys(timed, float("inf"))
    for _ in range(blocks):
        for name, fn in timed.items():
            best[name] = min(best[name], timeit.timeit(fn, number=calls) / calls)
    torch_best = min(timeit.repeat(lambda: torch.nn.functional.conv2d(tx, tw), number=calls,
                                   repeat=blocks)) / calls
    print(tvmprims.algorithm_heuristic.rules_report())
    for name, seconds in best.items():
        print(f"{name}: {seconds * 1e6:.2f} us")
    print(f"torch: {torch_best * 1e6:.2f} us")


if __name__ == "__main__":
    sys.exit(main())
