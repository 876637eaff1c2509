"""The slow state of some two-thread kernels (docs/BENCHMARKS.md, "A slow state of some
kernels: two threads slower than one"): the MobileNet stem (3x224x224 -> 16, 3x3 stride 2) and
ResNeXt's 512x14x14 g32 layer called alternately for 8 blocks of 0.5 s, the best call of each
per block, ms. Run it in several processes, with two threads and with one, e.g.:

    for i in 1 2 3; do
        PYTHONPATH=. python docs/slow_state.py two-threads
        PYTHONPATH=. TVM_NUM_THREADS=1 taskset -c 1 python docs/slow_state.py one-thread-cpu1
    done
"""

import sys
import time

import numpy as np

import tvmprims


def main(tag="", blocks=8, seconds=0.5):
    x = np.random.rand(1, 3, 224, 224).astype(np.float32)
    w = np.random.rand(16, 3, 3, 3).astype(np.float32)
    xg = np.random.rand(1, 512, 14, 14).astype(np.float32)
    wg = np.random.rand(512, 16, 3, 3).astype(np.float32)
    calls = (lambda: tvmprims.conv2d(x, w, stride=2, padding=1),
             lambda: tvmprims.conv2d(xg, wg, padding=1, groups=32))
    for call in calls:
        call()
    line = []
    for _ in range(blocks):
        best = [float("inf")] * len(calls)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            for i, call in enumerate(calls):
                start = time.perf_counter()
                call()
                best[i] = min(best[i], time.perf_counter() - start)
        line.append("/".join(f"{b * 1e3:.3f}" for b in best))
    print(tag, " ".join(line), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:2])
