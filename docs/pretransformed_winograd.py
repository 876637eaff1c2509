"""Winograd kernels with the filter transformed once (``winograd_weight``, then
``conv2d_winograd(pretransformed=True)``, as a ``Conv2d`` layer runs them) against the filter
transformed in every call and the direct kernel, on the same arrays called repeatedly (the
filter stays in cache), beside torch (docs/BENCHMARKS.md, "Measured and not kept: rules of
their own for layers whose weight is prepared once"). ms, best of 5 interleaved rounds.
Usage:

    PYTHONPATH=. python docs/pretransformed_winograd.py [NxCxHxW-O ...]
"""

import sys

import numpy as np
import torch

import tvmprims
from tvmprims.layer_suite import tvm_threads
from tvmprims.timing import interleaved_best

LAYERS = ("1x256x14x14-256", "1x512x7x7-512", "1x512x14x14-512", "1x384x13x13-256")


def main(layers=LAYERS):
    torch.set_num_threads(tvm_threads())
    for layer in layers:
        image, out = layer.split("-")
        n, c, h, w = map(int, image.split("x"))
        x = np.random.rand(n, c, h, w).astype(np.float32)
        weight = np.random.rand(int(out), c, 3, 3).astype(np.float32)
        direct = tvmprims.build("conv2d", x.shape, weight.shape, padding=1)
        names, calls = ["direct"], [lambda: direct(x, weight)]
        for tile in (2, 4):
            u = tvmprims.build("winograd_weight", weight.shape, tile=tile)(weight)
            once = tvmprims.build("conv2d_winograd", x.shape, u.shape, padding=1, tile=tile,
                                  pretransformed=True)
            per_call = tvmprims.build("conv2d_winograd", x.shape, weight.shape, padding=1,
                                      tile=tile)
            names += [f"F({tile}x{tile}) transformed once", f"F({tile}x{tile}) per call"]
            calls += [lambda k=once, u=u: k(x, u), lambda k=per_call: k(x, weight)]
        xt, wt = torch.from_numpy(x), torch.from_numpy(weight)
        names.append("torch")
        calls.append(lambda: torch.nn.functional.conv2d(xt, wt, None, 1, 1))
        times = interleaved_best(calls, rounds=5)
        print(layer, " | ".join(f"{name} {t * 1e3:.3f}" for name, t in zip(names, times)),
              flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or LAYERS))
