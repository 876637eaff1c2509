"""5x5 depthwise layers on planes narrower than a vector: register tiles of one row (before
2026-12-06's fourth session) against the tiles of ``schedules.common.tile_shape`` now (the
fewest rows holding a vector's worth of outputs), both kernels called as ``Kernel`` objects,
timed alternately with torch in one process on ``np.random.rand`` arrays
(docs/BENCHMARKS.md, "Long windows on narrow planes").
``PYTHONPATH=. python docs/depthwise_long_window_rows.py`` on a quiet machine.
"""

import numpy as np
import torch
from schedule_variants import replaced, start

import tvmprims
from tvmprims.schedules.cpu import depthwise_conv2d as depthwise
from tvmprims.testing import assert_close, depthwise_conv2d_ref
from tvmprims.timing import interleaved_best

#: (batch, channels, plane, kernel, stride): EfficientNet-B0's and MnasNet's 5x5 layers.
LAYERS = [(1, 480, 14, 5, 1), (1, 672, 14, 5, 1), (1, 1152, 7, 5, 1), (1, 672, 14, 5, 2),
          (1, 240, 28, 5, 1), (8, 1152, 7, 5, 1), (8, 672, 14, 5, 1), (8, 672, 14, 5, 2)]


def main():
    start()
    print(f"{'layer':<24}{'one row us':>11}{'now us':>9}{'tile':>7}{'torch us':>10}")
    for n, c, h, k, s in LAYERS:
        x = np.random.rand(n, c, h, h).astype(np.float32)
        w = np.random.rand(c, 1, k, k).astype(np.float32)
        build = lambda: tvmprims.build("depthwise_conv2d", x.shape, w.shape, stride=(s, s),
                                       padding=(k // 2,) * 4)
        with replaced((depthwise, "tile_shape", lambda oh, ow, *_: (1, ow))):
            before = build()
        now = build()
        _, _, oh, ow = now.workload.output_shape
        tile = depthwise.tile_shape(oh, ow, k, depthwise.vector_lanes(now.target, "float32"),
                                    depthwise.cpu_params(now.target))
        expected = depthwise_conv2d_ref(x, w, stride=s, padding=k // 2)
        outs = [np.empty(now.workload.output_shape, np.float32) for _ in range(2)]
        for kernel, out in zip((before, now), outs):
            assert_close(kernel(x, w, out=out), expected, "float32", k * k)
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        times = interleaved_best(
            [lambda: before(x, w, out=outs[0]), lambda: now(x, w, out=outs[1]),
             lambda: torch.nn.functional.conv2d(tx, tw, stride=s, padding=k // 2, groups=c)],
            rounds=8)
        label = f"{n}x{c}x{h}x{h} {k}x{k} s{s}"
        print(f"{label:<24}{times[0] * 1e6:>11.1f}{times[1] * 1e6:>9.1f}"
              f"{f'{tile[0]}x{tile[1]}':>7}{times[2] * 1e6:>10.1f}", flush=True)


if __name__ == "__main__":
    main()
