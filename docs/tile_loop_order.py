"""Direct conv2d's two orders of the tile loops (``schedules/cpu/conv2d.py``,
:func:`image_outer`) against each other and torch, timed alternately in one run: the rule
(rows outermost when each weight vector feeds >= 14 FMAs and the weight is no larger than a
padded input image or a quarter of L2), channel blocks outermost, rows outermost. Kernels
through the API (``schedule="hand"``), ms, two threads each side.

    PYTHONPATH=docs:. python docs/tile_loop_order.py 256x28x28-256x3x2 64x56x56-64x3x1

Layers are ``[N]xCxHxW-OxKxS`` (padding ``K // 2``).
"""

import sys

from schedule_variants import conv_layer, replaced, start, time_convs

import tvmprims
from tvmprims.schedules.cpu import conv2d as direct
from tvmprims.testing import assert_close

VARIANTS = {"rule": [], "channels outer": [(direct, "image_outer", lambda *args: False)],
            "rows outer": [(direct, "image_outer", lambda *args: True)]}


def main(layers):
    start()
    for layer in layers:
        x, weight, stride, padding, expected = conv_layer(layer)
        kernels = []
        for patches in VARIANTS.values():
            with replaced(*patches):
                kernels.append(tvmprims.build("conv2d", x.shape, weight.shape, stride=stride,
                                              padding=padding, schedule="hand"))
            assert_close(kernels[-1](x, weight), expected, "float32", weight[0].size)
        time_convs(layer, VARIANTS, kernels, x, weight, stride, padding, rounds=4)


if __name__ == "__main__":
    main(sys.argv[1:])
