"""Squeeze-and-excitation layers (1x1 convolutions of 1x1 images) against torch: the
partial sums of the schedule before 2026-12-06 (the target's full vector, a scalar tail
where it does not divide the channels) and now (at most 32-byte vectors, narrowed to a
divisor of the channels: ``schedules.common.plane_sum_lanes`` and ``partial_sum_lanes``),
both kernels called as ``Kernel`` objects (two schedules of one layer cannot both be behind
``tvmprims.conv2d``), then ``tvmprims.conv2d`` (now) and torch, timed alternately in one
run on ``np.random.rand`` arrays. docs/BENCHMARKS.md, "Squeeze-and-excitation partial sums".

``PYTHONPATH=. python docs/plane_sum_lanes.py`` on a quiet machine.
"""

import numpy as np
import torch
from schedule_variants import replaced, start

import tvmprims
from tvmprims.schedules import common
from tvmprims.schedules.cpu import conv2d as cpu_conv2d
from tvmprims.testing import assert_close, conv2d_ref
from tvmprims.timing import interleaved_best

#: (input channels, output channels) of EfficientNet-B0's, MobileNetV3's and RegNet's layers.
LAYERS = [(28, 672), (20, 480), (40, 960), (10, 240), (48, 1152), (96, 24), (1152, 48)]


def main():
    start()
    print(f"{'layer':<14}{'before us':>10}{'now us':>10}{'conv2d us':>10}{'torch us':>10}")
    for c, o in LAYERS:
        x = np.random.rand(1, c, 1, 1).astype(np.float32)
        w = np.random.rand(o, c, 1, 1).astype(np.float32)
        b = np.random.rand(o).astype(np.float32)
        expected = conv2d_ref(x, w, b, 1, 0)
        with replaced((cpu_conv2d, "plane_sum_lanes", common.vector_lanes),  # the full vector
                      (common, "partial_sum_lanes", lambda size, vector: min(size, vector))):
            before = tvmprims.build("conv2d", x.shape, w.shape, b.shape)  # and a tail
        now = tvmprims.build("conv2d", x.shape, w.shape, b.shape)
        for out in (before(x, w, b), now(x, w, b), tvmprims.conv2d(x, w, b)):
            assert_close(out, expected, "float32", c)
        tx, tw, tb = map(torch.from_numpy, (x, w, b))
        calls = [lambda: before(x, w, b), lambda: now(x, w, b), lambda: tvmprims.conv2d(x, w, b),
                 lambda: torch.nn.functional.conv2d(tx, tw, tb)]
        times = [f"{t * 1e6:>10.2f}" for t in interleaved_best(calls, rounds=7)]
        print(f"{f'{c} -> {o}':<14}{''.join(times)}")


if __name__ == "__main__":
    main()
