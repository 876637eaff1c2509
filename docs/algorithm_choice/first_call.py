"""First-call time of conv2d(algo=ALGO) on the distinct Conv2d layers of ResNet-18 (batch 1),
each new to the process, with empty algorithm and tuning caches.

    nice -n 5 python docs/algorithm_choice/first_call.py auto
    nice -n 5 python docs/algorithm_choice/first_call.py search

Prints one line per layer (seconds of the first call, the algorithm run) and the median. A
tiny conv2d runs first so that loading TVM and LLVM is not counted.
"""

import os
import statistics
import sys
import tempfile
import time

import numpy as np

cache = tempfile.mkdtemp()
os.environ.update(TVMPRIMS_ALGO_CACHE=f"{cache}/algorithms.json",
                  TVMPRIMS_TUNING_DIR=f"{cache}/tuning_logs")

import tvmprims  # noqa: E402
from tvmprims import algorithms  # noqa: E402
from tvmprims.algorithm_table import sample_layers  # noqa: E402
from tvmprims.ops.registry import layer_args  # noqa: E402

algo = sys.argv[1]
rng = np.random.default_rng(0)
tvmprims.conv2d(rng.standard_normal((1, 2, 5, 5)).astype(np.float32),
                rng.standard_normal((2, 2, 3, 3)).astype(np.float32), algo=algo)
times = []
for source, wl in sample_layers(sample=(("resnet18", 1, None),), extra=()):
    x_shape, w_shape, _, stride, padding, dilation, groups = layer_args(wl)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    start = time.perf_counter()
    tvmprims.conv2d(x, w, None, stride, padding, dilation, groups, algo=algo)
    times.append(time.perf_counter() - start)
    chosen = algorithms.algorithm_of(algorithms.choose_algorithm(wl, algo=algo))
    print(f"{source:34} {times[-1]:7.2f} s  {chosen}", flush=True)
print(f"{algo}: median first call {statistics.median(times):.2f} s over {len(times)} layers, "
      f"total {sum(times):.1f} s")
