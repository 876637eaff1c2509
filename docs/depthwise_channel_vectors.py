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
import torch
from schedule_variants import replaced, start

import tvmprims
from tvmprims.schedules.cpu import depthwise_conv2d as depthwise
from tvmprims.schedules.hardware import cpu_params
from tvmprims.target import resolve_target
from tvmprims.testing import assert_close, depthwise_conv2d_ref
from tvmprims.timing import interleaved_best


def _forced(wl, lanes, params, l1d_bytes):
    """The channel-vector tile of ``wl`` with its width, window and L1d conditions lifted."""
    _, _, oh, ow = wl.output_shape
    budget = params.conv2d_one_vector_registers
    cols = max(d for d in range(1, min(ow, budget) + 1) if ow % d == 0)
    rows = max(d for d in range(1, oh + 1) if oh % d == 0 and d * cols <= budget)
    return rows, cols


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
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        calls = [lambda kernel=kernel: kernel(x, w) for kernel in kernels]
        calls.append(lambda: torch.nn.functional.conv2d(tx, tw, None, stride, k // 2, 1, c))
        times = interleaved_best(calls, rounds=4)
        cells = [f"{v}: {t * 1e3:.4f} ({times[-1] / t:.2f}x)"
                 for v, t in zip(("rows", "channel vectors"), times)]
        print(layer, " | ".join(cells), f"| torch {times[-1] * 1e3:.4f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
