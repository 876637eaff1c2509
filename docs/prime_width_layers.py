"""Direct conv2d on prime output widths against torch: the one-column register tiles of the
schedule before 2026-12-06 (its compiled kernel called directly: two schedules of one layer
cannot both be behind ``tvmprims.conv2d``) and the tiles over segments that do not divide the
width (``schedules.cpu.conv2d._ragged_width_tiles``, now, through ``tvmprims.conv2d``), timed
alternately with torch in one run, on ``np.random.rand`` arrays. docs/BENCHMARKS.md, "Second pass, ragged GEMM packing,
prime-width conv tiles".

``PYTHONPATH=. python docs/prime_width_layers.py`` on a quiet machine.
"""

import numpy as np
import torch
from schedule_variants import replaced, start

import tvmprims
from tvmprims.schedules.cpu import conv2d as cpu_conv2d
from tvmprims.testing import assert_close, conv2d_ref
from tvmprims.timing import interleaved_best

#: (input, weight, padding): conv1d layers (height 1), a 5x5 layer, Inception's 1x7.
LAYERS = [
    ((8, 64, 1, 509), (96, 64, 1, 5), (0, 2)),
    ((1, 128, 1, 1021), (128, 128, 1, 3), (0, 1)),
    ((1, 64, 31, 31), (64, 64, 5, 5), 2),
    ((1, 128, 17, 17), (128, 128, 1, 7), (0, 3)),
]


def main():
    start()
    print(f"{'layer':<34}{'one column ms':>14}{'now ms':>9}{'torch ms':>10}")
    for x_shape, w_shape, padding in LAYERS:
        x = np.random.rand(*x_shape).astype(np.float32)
        w = np.random.rand(*w_shape).astype(np.float32)
        expected = conv2d_ref(x, w, None, 1, padding)
        with replaced((cpu_conv2d, "_ragged_width_tiles", lambda tiles, *_: tiles)):
            before = tvmprims.build("conv2d", x_shape, w_shape, padding=padding)
        for out in (before(x, w), tvmprims.conv2d(x, w, padding=padding, algo="direct")):
            assert_close(out, expected, "float32", int(np.prod(w_shape[1:])))
        calls = [lambda: before(x, w),
                 lambda: tvmprims.conv2d(x, w, padding=padding, algo="direct")]
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        calls.append(lambda: torch.nn.functional.conv2d(tx, tw, padding=padding))
        before, now, ref = interleaved_best(calls, rounds=5)
        label = f"{'x'.join(map(str, x_shape[1:]))} {'x'.join(map(str, w_shape))}"
        print(f"{label:<34}{before * 1e3:>14.3f}{now * 1e3:>9.3f}{ref * 1e3:>10.3f}")


if __name__ == "__main__":
    main()
