"""Winograd F(4x4) (F(2x2) where the layer name ends in ``f2``) kernel time, before and after
the tile columns moved by vector shuffles (``schedules/lane_shuffles.py``), the padding
computed per tile row and the GEMM tiles of 20 accumulators on two-FMA AVX-512 cores, each
change alone and all together, against torch; float64-checked. Usage:

    PYTHONPATH=docs:. python docs/winograd_shuffles.py [[N]xCxHxW-Ox3x1[f2] ...]
"""

import sys
from dataclasses import replace

from schedule_variants import compare_conv_variants

from tvmprims.schedules.common import parallel_vectorized_stage
from tvmprims.schedules.cpu import conv2d_winograd as winograd

LAYERS = ("64x224x224-64x3x1", "64x56x56-64x3x1", "128x28x28-128x3x1", "256x56x56-256x3x1",
          "256x14x14-256x3x1f2", "8x64x56x56-64x3x1")


def _one_pass_padding(sch, pad, tile_row, lanes):
    parallel_vectorized_stage(sch, pad, lanes, parallel_loops=2)


def _registers(value):
    hand = winograd.cpu_params
    return (winograd, "cpu_params", lambda target: replace(hand(target),
                                                           winograd_registers=value))


ELEMENTWISE = (winograd, "shuffled", lambda *_: False)
ONE_PASS = (winograd, "schedule_padding", _one_pass_padding)
VARIANTS = {"before": [ELEMENTWISE, ONE_PASS, _registers(12)],
            "shuffles": [ONE_PASS, _registers(12)],
            "+padding": [_registers(12)],
            "+registers (now)": []}


def main(layers=LAYERS):
    for layer in layers:
        name, tile = (layer[:-2], 2) if layer.endswith("f2") else (layer, 4)
        print(f"F({tile}x{tile}, 3x3):", end=" ")
        compare_conv_variants([name], VARIANTS, rounds=5, op="conv2d_winograd", tile=tile)


if __name__ == "__main__":
    main(sys.argv[1:] or LAYERS)
