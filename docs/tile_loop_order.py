"""Direct conv2d's two orders of the tile loops (``schedules/cpu/conv2d.py``,
:func:`image_outer`) against each other and torch, timed alternately in one run: the rule
(rows outermost when each weight vector feeds >= 14 FMAs and the weight is no larger than a
padded input image), channel blocks outermost, rows outermost. Kernels through the API
(``schedule="hand"``), ms, two threads each side.

    PYTHONPATH=docs:. python docs/tile_loop_order.py 256x28x28-256x3x2 64x56x56-64x3x1

Layers are ``[N]xCxHxW-OxKxS`` (padding ``K // 2``).
"""

import sys

import numpy as np
import torch
from schedule_variants import replaced, start

import tvmprims
from tvmprims.schedules.cpu import conv2d as direct
from tvmprims.testing import assert_close, conv2d_ref
from tvmprims.timing import interleaved_best

VARIANTS = {"rule": [], "channels outer": [(direct, "image_outer", lambda wl, tiles: False)],
            "rows outer": [(direct, "image_outer", lambda wl, tiles: True)]}


def main(layers):
    start()
    for layer in layers:
        image, (o, size, stride) = (tuple(map(int, p.split("x"))) for p in layer.split("-"))
        n, c, h, w = image if len(image) == 4 else (1, *image)
        x = np.random.rand(n, c, h, w).astype(np.float32)
        weight = np.random.rand(o, c, size, size).astype(np.float32)
        padding = size // 2
        expected = conv2d_ref(x, weight, None, stride, padding)
        kernels = []
        for patches in VARIANTS.values():
            with replaced(*patches):
                kernels.append(tvmprims.build("conv2d", x.shape, weight.shape, stride=stride,
                                              padding=padding, schedule="hand"))
            assert_close(kernels[-1](x, weight), expected, "float32", c * size * size)
        tx, tw = torch.from_numpy(x), torch.from_numpy(weight)
        calls = [lambda kernel=kernel: kernel(x, weight) for kernel in kernels]
        calls.append(lambda: torch.nn.functional.conv2d(tx, tw, None, stride, padding))
        times = interleaved_best(calls, rounds=4)
        cells = [f"{v}: {t * 1e3:.3f} ({times[-1] / t:.2f}x)" for v, t in zip(VARIANTS, times)]
        print(layer, " | ".join(cells), f"| torch {times[-1] * 1e3:.3f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
