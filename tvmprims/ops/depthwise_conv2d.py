"""Depthwise 2-D convolution, as ``torch.nn.functional.conv2d(..., groups=C)``.

Shapes: x (N, C, H, W), weight (C * m, 1, KH, KW), optional bias (C * m,) ->
(N, C * m, OH, OW); output channel ``o`` reads input channel ``o // m``.
"""

from .._tvm import te
from ._checks import require
from . import conv2d as _conv2d
from .conv2d import BIAS_ADD, CONV, PAD

__all__ = ["workload", "compute", "output_shape", "flops", "PAD", "CONV", "BIAS_ADD", "STAGES"]

#: Stage names (those of :mod:`tvmprims.ops.conv2d`): padding, convolution, bias.
STAGES = (PAD, CONV, BIAS_ADD)

output_shape = _conv2d.output_shape
flops = _conv2d.flops


def workload(x_shape, w_shape, bias_shape=None, dtype="float32", stride=1, padding=0, dilation=1,
             activation=None, residual=False):
    """Validate shapes and parameters; return the depthwise workload."""
    require(len(x_shape) == 4 and len(w_shape) == 4,
            f"depthwise_conv2d expects x (N, C, H, W) and weight (C*m, 1, KH, KW), got shapes "
            f"{tuple(x_shape)} and {tuple(w_shape)}")
    c, o = x_shape[1], w_shape[0]
    require(w_shape[1] == 1 and o % c == 0,
            f"depthwise weight must have shape (C*m, 1, KH, KW) with C={c}, got {tuple(w_shape)}")
    return _conv2d.workload(x_shape, w_shape, bias_shape, dtype, stride, padding, dilation,
                            groups=c, activation=activation, residual=residual,
                            op="depthwise_conv2d")


def compute(wl):
    inputs = _conv2d.placeholders(wl)
    x, w = inputs[:2]
    _, _, kh, kw = wl.shapes[1]
    (sh, sw), (dh, dw) = wl["stride"], wl["dilation"]
    multiplier = wl.shapes[1][0] // wl.shapes[0][1]
    xp = _conv2d.pad_input(x, wl["padding"])
    ry = te.reduce_axis((0, kh), name="ry")
    rx = te.reduce_axis((0, kw), name="rx")
    conv = te.compute(
        output_shape(wl),
        lambda n, f, y, z: te.sum(
            xp[n, f // multiplier, y * sh + ry * dh, z * sw + rx * dw] * w[f, 0, ry, rx],
            axis=[ry, rx]),
        name=CONV)
    return _conv2d.inputs_and_output(inputs, conv, wl)
