"""What a conv2d layer costs through ``tvmprims.conv2d`` against its kernels called raw, and
the check that a transform algorithm's result is finite (``arrays.all_finite``), beside
torch (docs/BENCHMARKS.md, "K-blocked GEMMs for long K": VGG's 64x224x224 layer). ms, best
of 5 interleaved rounds. Usage:

    PYTHONPATH=docs:. python docs/api_vs_kernel.py [CxHxW-Ox3x1 ...]

(3x3 stride-1 layers: the raw kernels are direct and Winograd F(4x4)).
"""

import sys

import numpy as np
import torch
from schedule_variants import layer_shapes, start

import tvmprims
from tvmprims.arrays import all_finite
from tvmprims.timing import interleaved_best


def main(layers=("64x224x224-64x3x1",)):
    start()
    for layer in layers:
        x_shape, w_shape, stride, _ = layer_shapes(layer)
        padding = w_shape[2] // 2
        x = np.random.rand(*x_shape).astype(np.float32)
        w = np.random.rand(*w_shape).astype(np.float32)
        b = np.random.rand(w_shape[0]).astype(np.float32)
        params = dict(stride=stride, padding=padding)
        out = tvmprims.conv2d(x, w, b, **params)
        winograd = tvmprims.build("conv2d_winograd", x.shape, w.shape, b.shape, tile=4,
                                  **params).module["main"]
        direct = tvmprims.build("conv2d", x.shape, w.shape, b.shape, **params).module["main"]
        xt, wt, bt = map(torch.from_numpy, (x, w, b))
        calls = {"tvmprims.conv2d (auto)": lambda: tvmprims.conv2d(x, w, b, **params),
                 "tvmprims.conv2d (direct)": lambda: tvmprims.conv2d(x, w, b, algo="direct",
                                                                     **params),
                 "Winograd F(4x4) kernel": lambda: winograd(x, w, b, out),
                 "direct kernel": lambda: direct(x, w, b, out),
                 "all_finite(result)": lambda: all_finite(out),
                 "torch": lambda: torch.nn.functional.conv2d(xt, wt, bt, stride, padding)}
        times = interleaved_best(list(calls.values()), rounds=5)
        print(layer, " | ".join(f"{name} {t * 1e3:.3f}" for name, t in zip(calls, times)),
              flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ("64x224x224-64x3x1",)))
