"""Direct 2-D convolution, NCHW input, OIHW weight, as ``torch.nn.functional.conv2d``.

Shapes: x (N, C, H, W), weight (O, C // groups, KH, KW), optional bias (O,) ->
(N, O, OH, OW) with ``OH = (H + pad_top + pad_bottom - dilation*(KH-1) - 1) // stride + 1``.
Cross-correlation (no kernel flip), as in every deep-learning framework.
"""

from .._tvm import te
from ..workload import Workload
from ._checks import conv_output_size, is_int, pair, positive_pair, require

__all__ = ["workload", "compute", "output_shape", "flops", "normalize_padding", "pad_input",
           "add_bias", "placeholders", "PAD", "CONV", "BIAS_ADD", "STAGES"]

#: Stage (TensorIR block) names, for the schedules: the zero-padded input (absent without
#: padding), the convolution, the bias epilogue (absent without bias; every convolution
#: operator names it so).
PAD = "pad"
CONV = "conv"
BIAS_ADD = "bias_add"
STAGES = (PAD, CONV, BIAS_ADD)


def normalize_padding(padding, kernel, dilation, stride):
    """Padding as (top, bottom, left, right) from an int, a pair (height, width), such a
    4-tuple, 'valid' or 'same'."""
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        require(all(is_int(p) for p in padding),
                f"padding must be ints, got {tuple(padding)!r}")
        require(min(padding) >= 0, f"padding must be non-negative, got {tuple(padding)!r}")
        return tuple(int(p) for p in padding)
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            require(stride == (1, 1), "padding='same' requires stride 1, as in torch")
            (kh, kw), (dh, dw) = kernel, dilation
            th, tw = dh * (kh - 1), dw * (kw - 1)
            return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        raise ValueError(f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    ph, pw = pair(padding, "padding")
    require(ph >= 0 and pw >= 0, f"padding must be non-negative, got {padding!r}")
    return (ph, ph, pw, pw)


def workload(x_shape, w_shape, bias_shape=None, dtype="float32", stride=1, padding=0,
             dilation=1, groups=1, op="conv2d", extra=None):
    """Validate shapes and parameters; return the workload of operator ``op``.

    Other convolution algorithms (``conv2d_im2col``, ...) pass their ``op`` name and a dict of
    their own parameters in ``extra``; their workloads then carry the same checked
    convolution fields.
    """
    require(len(x_shape) == 4, f"{op} expects x of rank 4 (N, C, H, W), got shape {tuple(x_shape)}")
    require(len(w_shape) == 4,
            f"{op} expects weight of rank 4 (O, C/groups, KH, KW), got shape {tuple(w_shape)}")
    if not is_int(groups):
        raise TypeError(f"groups must be an int, got {groups!r}")
    require(groups >= 1, f"groups must be a positive int, got {groups!r}")
    groups = int(groups)
    n, c, h, w = x_shape
    o, cg, kh, kw = w_shape
    require(c % groups == 0 and o % groups == 0,
            f"groups={groups} must divide input channels ({c}) and output channels ({o})")
    require(cg == c // groups,
            f"weight has {cg} input channels per group, but x has {c} channels and groups={groups} "
            f"(expected {c // groups})")
    if bias_shape is not None:
        require(tuple(bias_shape) == (o,), f"bias must have shape ({o},), got {tuple(bias_shape)}")
    stride = positive_pair(stride, "stride")
    dilation = positive_pair(dilation, "dilation")
    pads = normalize_padding(padding, (kh, kw), dilation, stride)
    conv_output_size(h, pads[0] + pads[1], kh, stride[0], dilation[0], "height")
    conv_output_size(w, pads[2] + pads[3], kw, stride[1], dilation[1], "width")
    shapes = (x_shape, w_shape) + ((bias_shape,) if bias_shape is not None else ())
    params = dict(stride=stride, padding=pads, dilation=dilation, **(extra or {}))
    if op != "depthwise_conv2d":
        params["groups"] = groups
    return Workload.make(op, shapes, dtype, **params)


def output_shape(wl):
    (n, _, h, w), (o, _, kh, kw) = wl.shapes[:2]
    (sh, sw), (dh, dw), (pt, pb, pl, pr) = wl["stride"], wl["dilation"], wl["padding"]
    return (n, o, conv_output_size(h, pt + pb, kh, sh, dh, "height"),
            conv_output_size(w, pl + pr, kw, sw, dw, "width"))


def flops(wl):
    n, o, oh, ow = output_shape(wl)
    _, cg, kh, kw = wl.shapes[1]
    return 2 * n * o * oh * ow * cg * kh * kw + (n * o * oh * ow if len(wl.shapes) == 3 else 0)


def pad_input(x, padding, name=PAD):
    """Zero-pad the last two axes of an NCHW tensor; returns ``x`` itself when no padding."""
    pt, pb, pl, pr = padding
    if not any(padding):
        return x
    n, c, h, w = x.shape
    return te.compute(
        (n, c, h + pt + pb, w + pl + pr),
        lambda i, j, y, z: te.if_then_else(
            te.all(y >= pt, y < h + pt, z >= pl, z < w + pl), x[i, j, y - pt, z - pl],
            te.const(0, x.dtype)),
        name=name)


def add_bias(out, bias):
    """Output stage ``out + bias[channel]`` named :data:`BIAS_ADD`; ``out`` itself when no bias."""
    if bias is None:
        return out
    return te.compute(out.shape, lambda n, o, y, z: out[n, o, y, z] + bias[o], name=BIAS_ADD)


def placeholders(wl):
    """Input placeholders ``(x, weight, bias or None)`` of a convolution workload."""
    x = te.placeholder(wl.shapes[0], wl.dtype, name="X")
    w = te.placeholder(wl.shapes[1], wl.dtype, name="W")
    b = te.placeholder(wl.shapes[2], wl.dtype, name="bias") if len(wl.shapes) == 3 else None
    return x, w, b


def compute(wl):
    x, w, bias = placeholders(wl)
    _, o, oh, ow = output_shape(wl)
    _, cg, kh, kw = wl.shapes[1]
    (sh, sw), (dh, dw), groups = wl["stride"], wl["dilation"], wl["groups"]
    per_group = o // groups
    xp = pad_input(x, wl["padding"])
    rc = te.reduce_axis((0, cg), name="rc")
    ry = te.reduce_axis((0, kh), name="ry")
    rx = te.reduce_axis((0, kw), name="rx")
    conv = te.compute(
        output_shape(wl),
        lambda n, f, y, z: te.sum(
            xp[n, f // per_group * cg + rc, y * sh + ry * dh, z * sw + rx * dw] * w[f, rc, ry, rx],
            axis=[rc, ry, rx]),
        name=CONV)
    return [t for t in (x, w, bias) if t is not None] + [add_bias(conv, bias)]
