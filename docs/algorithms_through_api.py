"""A 3x3 stride-1 layer through ``tvmprims.conv2d`` with each of direct, Winograd F(4x4) and
F(2x2) forced (``algo=``), with a bias, beside torch: what the algorithm rules choose
between, as users call it (docs/BENCHMARKS.md, "Winograd's tile columns by vector shuffles").
ms, best of 7 interleaved rounds. Usage:

    PYTHONPATH=. python docs/algorithms_through_api.py [NxCxHxW-O[pP] ...]

``pP``: padding P (default 1); ``1x64x58x58-64p0`` is an unpadded layer.
"""

import sys

import numpy as np
import torch

import tvmprims
from tvmprims.layer_suite import tvm_threads
from tvmprims.timing import interleaved_best

LAYERS = ("8x512x7x7-512", "1x256x14x14-256", "1x32x27x27-128", "1x32x28x28-96",
          "1x48x27x27-192", "1x32x56x56-64", "1x64x14x14-64")
ALGORITHMS = ("direct", "winograd4", "winograd2")


def main(layers=LAYERS):
    torch.set_num_threads(tvm_threads())
    for layer in layers:
        image, out = layer.split("-")
        out, _, padding = out.partition("p")
        padding = int(padding or 1)
        n, c, h, w = map(int, image.split("x"))
        x = np.random.rand(n, c, h, w).astype(np.float32)
        weight = np.random.rand(int(out), c, 3, 3).astype(np.float32)
        bias = np.random.rand(int(out)).astype(np.float32)
        calls = [lambda algo=algo: tvmprims.conv2d(x, weight, bias, 1, padding, algo=algo)
                 for algo in ALGORITHMS]
        xt, wt, bt = map(torch.from_numpy, (x, weight, bias))
        calls.append(lambda: torch.nn.functional.conv2d(xt, wt, bt, 1, padding))
        for call in calls:
            call()
        times = interleaved_best(calls, rounds=7)
        cells = " | ".join(f"{name} {t * 1e3:.3f}"
                           for name, t in zip(ALGORITHMS + ("torch",), times))
        print(layer, cells, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or LAYERS))
