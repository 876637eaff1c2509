"""Depthwise convolutions without a column stride, before and after their per-plane padding
became a fill and a copy of the rows (``schedules.common.fill_then_copy``): the old stage,
one loop with a bounds test per element that TVM's vectoriser left scalar, is put back for
the "before" kernel. Both kernels are called as ``Kernel`` objects on ``np.random.rand``
arrays, alternately, with torch for scale. docs/BENCHMARKS.md, "Depthwise padding as a fill
and a copy".

``PYTHONPATH=. python docs/depthwise_padding.py`` on a quiet machine.
"""

import numpy as np
import torch
from schedule_variants import replaced, start

import tvmprims
from tvmprims.schedules import common
from tvmprims.testing import assert_close, depthwise_conv2d_ref
from tvmprims.timing import interleaved_best

#: (input, kernel size): MobileNetV2's and EfficientNet's stride-1 depthwise layers.
LAYERS = [((1, 32, 112, 112), 3), ((1, 144, 56, 56), 3), ((1, 192, 28, 28), 3),
          ((1, 384, 14, 14), 3), ((1, 960, 7, 7), 3), ((1, 240, 28, 28), 5),
          ((1, 672, 14, 14), 5)]


def _one_loop(sch, pad, loop, lanes):
    common.vectorize_innermost(sch, pad, lanes)


def main():
    start()
    print(f"{'layer':<20}{'before us':>11}{'after us':>10}{'speed-up':>10}{'torch us':>10}")
    for x_shape, k in LAYERS:
        channels = x_shape[1]
        x = np.random.rand(*x_shape).astype(np.float32)
        w = np.random.rand(channels, 1, k, k).astype(np.float32)
        expected = depthwise_conv2d_ref(x, w, None, 1, k // 2)
        with replaced((common, "fill_then_copy", _one_loop)):
            before = tvmprims.build("depthwise_conv2d", x.shape, w.shape, padding=k // 2)
        after = tvmprims.build("depthwise_conv2d", x.shape, w.shape, padding=k // 2)
        for kernel in (before, after):
            assert_close(kernel(x, w), expected, "float32", k * k)
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        before_s, after_s, ref_s = interleaved_best(
            [lambda: before(x, w), lambda: after(x, w),
             lambda: torch.nn.functional.conv2d(tx, tw, None, 1, k // 2, groups=channels)],
            rounds=5)
        label = f"{'x'.join(map(str, x_shape[1:]))} {k}x{k}"
        print(f"{label:<20}{before_s * 1e6:>11.1f}{after_s * 1e6:>10.1f}"
              f"{before_s / after_s:>9.2f}x{ref_s * 1e6:>10.1f}")


if __name__ == "__main__":
    main()
