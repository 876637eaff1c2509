"""Direct conv2d on 1x1 layers against torch: the channel tiles the tiling key picked before
2026-12-06 (two vectors, 32 float32 channels on AVX-512) and those of at most a cache line of
weight per input channel (``schedules.cpu.conv2d.pointwise_channels``: 16), both kernels
called as ``Kernel`` objects (two schedules of one layer cannot both be behind
``tvmprims.conv2d``), then torch, timed alternately in one run on ``np.random.rand`` arrays.
docs/BENCHMARKS.md, "Squeeze-and-excitation partial sums, refitted algorithm rules".

``PYTHONPATH=. python docs/pointwise_tiles.py`` on a quiet machine.
"""

import numpy as np
import torch
from schedule_variants import replaced, start

import tvmprims
from tvmprims.schedules.cpu import conv2d as cpu_conv2d
from tvmprims.testing import assert_close, conv2d_ref
from tvmprims.timing import interleaved_best

#: (input, output channels, stride): ResNet-50's, DenseNet's and MobileNetV2's 1x1 layers.
LAYERS = [((1, 1024, 14, 14), 256, 1), ((1, 256, 14, 14), 1024, 1), ((1, 640, 14, 14), 128, 1),
          ((1, 96, 14, 14), 576, 1), ((1, 512, 28, 28), 128, 1), ((1, 512, 28, 28), 1024, 2),
          ((1, 2048, 7, 7), 512, 1), ((1, 24, 28, 28), 144, 1)]


def main():
    start()
    print(f"{'layer':<24}{'tiles before':>14}{'ms':>8}{'tiles now':>11}{'ms':>8}{'torch ms':>10}")
    for x_shape, out_channels, stride in LAYERS:
        x = np.random.rand(*x_shape).astype(np.float32)
        w = np.random.rand(out_channels, x_shape[1], 1, 1).astype(np.float32)
        expected = conv2d_ref(x, w, None, stride, 0)
        with replaced((cpu_conv2d, "pointwise_channels", lambda *_: None)):  # no limit
            before = tvmprims.build("conv2d", x.shape, w.shape, stride=stride)
            tiles = [cpu_conv2d.weight_block(before.workload, before.target)]
        now = tvmprims.build("conv2d", x.shape, w.shape, stride=stride)
        tiles.append(cpu_conv2d.weight_block(now.workload, now.target))
        kernels = [before, now]
        for kernel in kernels:
            assert_close(kernel(x, w), expected, "float32", x_shape[1])
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        calls = [lambda k=k: k(x, w) for k in kernels]
        calls.append(lambda: torch.nn.functional.conv2d(tx, tw, None, stride))
        before_s, now_s, ref_s = interleaved_best(calls, rounds=5)
        label = f"{'x'.join(map(str, x_shape[1:]))} -> {out_channels}" + (
            f" s{stride}" if stride > 1 else "")
        print(f"{label:<24}{tiles[0]:>14}{before_s * 1e3:>8.3f}{tiles[1]:>11}"
              f"{now_s * 1e3:>8.3f}{ref_s * 1e3:>10.3f}")


if __name__ == "__main__":
    main()
