"""2-D convolution by im2col + GEMM, with the semantics of :mod:`tvmprims.ops.conv2d`.

Shapes: x (N, C, H, W), weight (O, C // groups, KH, KW), optional bias (O,) -> (N, O, OH, OW),
as ``torch.nn.functional.conv2d`` (any kernel size, stride, padding, dilation, groups).

Stages (``K = C/groups * KH * KW`` taps, ``P = OH * OW`` output pixels, ``G`` groups):

0. ``pad`` (N, C, H + pads, W + pads): x zero-padded (absent without padding), so that the
   patch matrix is a plain gather with no bounds test per element.
1. ``im2col`` (N, G, K, P): the patch matrix, ``im2col[n, g, (c, ky, kx), (y, x)] =
   pad[n, g*C/G + c, y*stride + ky*dilation, x*stride + kx*dilation]``.
2. ``weight_matrix`` (G, O/G, K): the weight of each group viewed as a matrix (same memory
   order as the OIHW weight, so a schedule can inline it as a plain load).
3. ``gemm`` (N, G, O/G, P): one matrix product per image and group,
   ``gemm[n, g] = weight_matrix[g] @ im2col[n, g]``.
4. ``conv`` (N, O, OH, OW): the GEMM result viewed as an NCHW image, then ``bias_add``.
"""

from .._tvm import te
from . import conv2d as _conv2d
from .conv2d import BIAS_ADD, PAD, inputs_and_output, pad_input, placeholders

__all__ = ["workload", "compute", "output_shape", "flops", "PAD", "IM2COL", "WEIGHT_MATRIX",
           "GEMM", "CONV", "BIAS_ADD", "STAGES"]

#: Stage names (see the module docstring).
IM2COL = "im2col"
WEIGHT_MATRIX = "weight_matrix"
GEMM = "gemm"
CONV = "conv"
STAGES = (PAD, IM2COL, WEIGHT_MATRIX, GEMM, CONV, BIAS_ADD)

output_shape = _conv2d.output_shape
flops = _conv2d.flops


def workload(x_shape, w_shape, bias_shape=None, dtype="float32", stride=1, padding=0,
             dilation=1, groups=1, activation=None, residual=False):
    """Validate shapes and parameters (as conv2d, epilogue included); return the
    ``conv2d_im2col`` workload."""
    return _conv2d.workload(x_shape, w_shape, bias_shape, dtype, stride, padding, dilation,
                            groups, activation, residual, op="conv2d_im2col")


def gemm_shape(wl):
    """``(batch, groups, m, n, k)``: the GEMMs of the workload, ``m x k`` by ``k x n``."""
    n, o, oh, ow = output_shape(wl)
    _, cg, kh, kw = wl.shapes[1]
    groups = wl["groups"]
    return n, groups, o // groups, oh * ow, cg * kh * kw


def compute(wl):
    inputs = placeholders(wl)
    x, w = inputs[:2]
    _, cg, kh, kw = wl.shapes[1]
    n, o, oh, ow = output_shape(wl)
    batch, groups, per_group, pixels, taps = gemm_shape(wl)
    (sh, sw), (dh, dw) = wl["stride"], wl["dilation"]
    xp = pad_input(x, wl["padding"])
    cols = te.compute(
        (batch, groups, taps, pixels),
        lambda b, g, r, p: xp[b, g * cg + r // (kh * kw), p // ow * sh + r // kw % kh * dh,
                              p % ow * sw + r % kw * dw],
        name=IM2COL)
    wmat = te.compute((groups, per_group, taps),
                      lambda g, f, r: w[g * per_group + f, r // (kh * kw), r // kw % kh, r % kw],
                      name=WEIGHT_MATRIX)
    rk = te.reduce_axis((0, taps), name="rk")
    gemm = te.compute((batch, groups, per_group, pixels),
                      lambda b, g, f, p: te.sum(wmat[g, f, rk] * cols[b, g, rk, p], axis=rk),
                      name=GEMM)
    conv = te.compute((n, o, oh, ow),
                      lambda b, f, y, z: gemm[b, f // per_group, f % per_group, y * ow + z],
                      name=CONV)
    return inputs_and_output(inputs, conv, wl)
