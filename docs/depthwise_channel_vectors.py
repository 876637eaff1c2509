"""Depthwise layers with rows shorter than a vector: the row tiles against the channel-vector
tiles (``schedules/cpu/depthwise_conv2d.py``, :func:`channel_vector_tile`) and torch, timed
alternately in one run; kernels through ``tvmprims.build(..., schedule="hand")``, ms, two
threads each side. The channel-vector tiles are forced on for the comparison wherever they
apply to the shapes, whatever the rule says.

    PYTHONPATH=docs:. python docs/depthwise_channel_vectors.py 1x1152x7-5 8x672x14-5s2

A layer is ``NxCxH-K[sS]`` (a square H x H image, a K x K window, padding K // 2).
"""

import sys

import numpy as np
from schedule_variants import replaced, start, time_convs

import tvmprims
from tvmprims.schedules.cpu import depthwise_conv2d as depthwise
from tvmprims.schedules.hardware import cpu_params
from tvmprims.target import resolve_target
from tvmprims.testing import assert_close, depthwise_conv2d_ref


def _forced(wl, lanes, params, l1d_bytes):
    """The channel-vector tile of ``wl`` with its width, window and L1d conditions lifted."""
    _, _, oh, ow = wl.output_shape
    return depthwise.channel_vector_shape(oh, ow, params.conv2d_one_vector_registers)


def main(layers):
    start()
    print(f"budget {cpu_params(resolve_target(None)).conv2d_one_vector_registers} accumulators")
    for layer in layers:
        shape, _, rest = layer.partition("-")
        n, c, h = map(int, shape.split("x"))
        k, _, stride = rest.partition("s")
        k, stride = int(k), int(stride or 1)
        x = np.random.rand(n, c, h, h).astype(np.float32)
        w = np.random.rand(c, 1, k, k).astype(np.float32)
        expected = depthwise_conv2d_ref(x, w, None, stride, k // 2)
        kernels = []
        for tile in (lambda *args: None, _forced):
            with replaced((depthwise, "channel_vector_tile", tile)):
                kernels.append(tvmprims.build("depthwise_conv2d", x.shape, w.shape, stride=stride,
                                              padding=k // 2, schedule="hand"))
            assert_close(kernels[-1](x, w), expected, "float32", k * k)
        time_convs(layer, ("rows", "channel vectors"), kernels, x, w, stride, k // 2, rounds=4,
                   groups=c)


if __name__ == "__main__":
    main(sys.argv[1:])
