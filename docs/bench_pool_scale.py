"""Global average pooling and scale_channels against torch, float32 (the README's tables).

Run from the repository root: ``PYTHONPATH=. python docs/bench_pool_scale.py`` (point
PYTHONPATH at another checkout to time its schedules). Per shape: a call of the numpy API
(``api``), best of 5 interleaved rounds with torch's call (``torch``); the kernel alone by
TVM's time_evaluator (``kernel``). Seconds of wall time in all; keep the machine quiet.
"""

import numpy as np
import torch

import tvmprims
from tvmprims.build import build_workload
from tvmprims.ops import adaptive_avg_pool2d as pool_op
from tvmprims.ops import scale_channels as scale_op
from tvmprims.timing import interleaved_best

POOL_SHAPES = [(1, 1280, 7, 7), (1, 2048, 7, 7), (1, 512, 13, 13), (8, 512, 7, 7),
               (1, 1024, 7, 7)]
SCALE_SHAPES = [(1, 72, 28, 28), (1, 120, 28, 28), (1, 672, 14, 14), (1, 960, 7, 7),
                (1, 1152, 7, 7), (8, 512, 7, 7)]


def _row(shape, api, kernel, reference):
    print(f"{'x'.join(map(str, shape)):>12}: api {api * 1e3:.4f} ms  kernel {kernel * 1e3:.4f} "
          f"ms  torch {reference * 1e3:.4f} ms")


def main():
    rng = np.random.default_rng(0)
    print(f"{tvmprims.__file__}, torch threads {torch.get_num_threads()}")
    print("global average pooling: tvmprims.adaptive_avg_pool2d(x, 1) vs "
          "F.adaptive_avg_pool2d(x, 1)")
    for shape in POOL_SHAPES:
        x = rng.standard_normal(shape).astype("float32")
        xt = torch.from_numpy(x)
        kernel = build_workload(pool_op.workload(shape, "float32", 1), "llvm")
        api, reference = interleaved_best(
            [lambda: tvmprims.adaptive_avg_pool2d(x, 1),
             lambda: torch.nn.functional.adaptive_avg_pool2d(xt, 1)])
        _row(shape, api, min(kernel.time(x, min_repeat_ms=50).results), reference)
    print("scale_channels: tvmprims.scale_channels(x, s) vs x * s")
    for shape in SCALE_SHAPES:
        x = rng.standard_normal(shape).astype("float32")
        s = rng.standard_normal(shape[:2] + (1, 1)).astype("float32")
        xt, st = torch.from_numpy(x), torch.from_numpy(s)
        kernel = build_workload(scale_op.workload(shape, s.shape, "float32"), "llvm")
        api, reference = interleaved_best([lambda: tvmprims.scale_channels(x, s),
                                           lambda: xt * st])
        _row(shape, api, min(kernel.time(x, s, min_repeat_ms=50).results), reference)


if __name__ == "__main__":
    main()
