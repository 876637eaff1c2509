"""Direct conv2d's two orders of the tile loops (``schedules/cpu/conv2d.py``,
:func:`image_outer`) against each other and torch, timed alternately in one run: the rule
(rows outermost when each weight vector feeds >= 14 FMAs and the weight is no larger than a
padded input image or a quarter of L2), channel blocks outermost, rows outermost. Kernels
through the API (``schedule="hand"``), ms, two threads each side.

    PYTHONPATH=docs:. python docs/tile_loop_order.py 256x28x28-256x3x2 64x56x56-64x3x1

Layers are ``[N]xCxHxW-OxKxS`` (padding ``K // 2``).
"""

import sys

from schedule_variants import compare_conv_variants

from tvmprims.schedules.cpu import conv2d as direct

VARIANTS = {"rule": [], "channels outer": [(direct, "image_outer", lambda *args: False)],
            "rows outer": [(direct, "image_outer", lambda *args: True)]}


def main(layers):
    compare_conv_variants(layers, VARIANTS)


if __name__ == "__main__":
    main(sys.argv[1:])
