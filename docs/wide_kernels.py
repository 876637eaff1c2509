"""Direct conv2d on kernels wider than 7 taps (``schedules/cpu/conv2d.py``): the current
schedule (channel tiles unroll up to ``MAX_UNROLLED_TAPS`` taps; strided ones take tiles of
the two-vector budget, :func:`tap_sharing_budget`) against the one before (taps a loop past
7, tiles of the one-vector budget) and torch, timed alternately in one run. Kernels through
the API (``schedule="hand"``), ms, two threads each side.

    PYTHONPATH=docs:. python docs/wide_kernels.py 3x220x220-64x11x4 64x56x56-64x9x1

Layers are ``[N]xCxHxW-OxKxS`` (padding ``K // 2``; 3x220x220 with an 11x11 stride-4 kernel
has AlexNet's 55 x 55 output). Without layers: the eight of docs/BENCHMARKS.md.
"""

import sys

from schedule_variants import compare_conv_variants

from tvmprims.schedules.cpu import conv2d as direct

LAYERS = ["3x220x220-64x11x4", "8x220x220-64x11x4", "32x56x56-64x11x2", "16x112x112-32x9x2",
          "64x56x56-128x9x2", "64x56x56-64x9x1", "128x28x28-128x9x1", "32x64x64-32x11x1"]

VARIANTS = {"now": [],
            "before": [(direct, "MAX_UNROLLED_TAPS", direct.MAX_UNROLLED_WIDTH),
                       (direct, "tap_sharing_budget", lambda wl, params: None)]}


def main(layers):
    compare_conv_variants(layers or LAYERS, VARIANTS)


if __name__ == "__main__":
    main(sys.argv[1:])
