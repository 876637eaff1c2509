"""im2col kernels of a batch on small planes: one GEMM per image against one GEMM whose
columns are (image, pixel) (`schedules/cpu/conv2d_im2col.py`, `images_as_columns`;
README, "Images as columns"). Both are the hand schedule, the rule forced each way, checked
against float64 and timed alternately with torch's `F.conv2d` (kernels, ms, best of 5
rounds); first, what the rule takes on this host. Usage:

    PYTHONPATH=docs:. python docs/images_as_columns.py [NxCxHxW-Ox1xS ...]

(default: the layers quoted at ``STORE_COST``).
"""

import sys

from schedule_variants import compare_conv_variants, layer_shapes

from tvmprims.ops import conv2d_im2col
from tvmprims.schedules.common import vector_lanes
from tvmprims.schedules.cpu import conv2d_im2col as schedule
from tvmprims.schedules.hardware import cpu_params
from tvmprims.target import resolve_target

LAYERS = ("8x512x7x7-2048x1x1", "4x512x7x7-2048x1x1", "8x192x7x7-1152x1x1",
          "8x320x7x7-1280x1x1", "8x256x7x7-768x1x1", "4x128x1x1-512x1x1",
          "16x512x1x1-1000x1x1", "8x256x7x7-512x1x1", "8x576x7x7-160x1x1",
          "8x128x14x14-512x1x1", "8x64x14x14-1024x1x1", "8x96x3x3-640x1x1",
          "8x1152x7x7-320x1x1", "8x2048x7x7-512x1x1")


def _forced(value):
    return [(schedule, "images_as_columns", lambda *args, **kwargs: value)]


def main(layers=LAYERS):
    target = resolve_target(None)
    for layer in layers:
        x_shape, w_shape, stride, _ = layer_shapes(layer)
        images, _, m, n, k = conv2d_im2col.gemm_shape(
            conv2d_im2col.workload(x_shape, w_shape, stride=stride))
        taken = schedule.images_as_columns(images, m, n, k, vector_lanes(target, "float32"),
                                           cpu_params(target))
        print(f"{layer}: the rule takes {'images as columns' if taken else 'per image'}")
    compare_conv_variants(layers, {"per image": _forced(False),
                                   "images as columns": _forced(True)},
                          rounds=5, op="conv2d_im2col")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or LAYERS))
