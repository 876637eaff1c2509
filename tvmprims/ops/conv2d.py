"""Direct 2-D convolution, NCHW input, OIHW weight, as ``torch.nn.functional.conv2d``.

Shapes: x (N, C, H, W), weight (O, C // groups, KH, KW), optional bias (O,) ->
(N, O, OH, OW) with ``OH = (H + pad_top + pad_bottom - dilation*(KH-1) - 1) // stride + 1``.
Cross-correlation (no kernel flip), as in every deep-learning framework.

Every convolution operator shares two options of this module:

* **A fused epilogue** ``act(conv + bias[o] + residual)``: ``activation`` one of
  :data:`ACTIVATIONS` (None: identity) and ``residual=True`` (one more input, of the output's
  shape, added before the activation, as a ResNet block's shortcut). Bias, residual and
  activation are one element-wise stage (:data:`BIAS_ADD`) that the schedules fold into the
  write-back, so the output is stored once (cuDNN's fused conv-bias-activation).
* **A pre-packed weight** (direct ``conv2d`` only): ``weight_block=b`` takes the weight as
  ``(O // b, C // groups, KH, KW, b)``, element ``[o // b, c, y, x, o % b]`` being
  ``weight[o, c, y, x]``: the layout the CPU schedule packs into on every call otherwise, made
  once by :func:`pack_weight` for a layer whose weight does not change.

Inputs in argument order: x, weight, bias (when given), residual (when ``residual``).
"""

import functools

import numpy as np

from .._tvm import te, tirx
from ..workload import Workload
from ._checks import conv_output_size, is_int, pair, positive_pair, require

__all__ = ["workload", "compute", "output_shape", "flops", "normalize_padding", "pad_input",
           "epilogue", "placeholders", "has_bias", "pack_weight", "weight_shape", "PAD", "CONV",
           "BIAS_ADD", "STAGES", "ACTIVATIONS"]

#: Stage (TensorIR block) names, for the schedules: the zero-padded input (absent without
#: padding), the convolution, the epilogue (bias, residual, activation; absent without any
#: of them; every convolution operator names it so).
PAD = "pad"
CONV = "conv"
BIAS_ADD = "bias_add"
STAGES = (PAD, CONV, BIAS_ADD)

#: Activations the epilogue can apply, as the ``torch.nn.functional`` functions of those names.
ACTIVATIONS = ("relu", "relu6", "silu", "sigmoid", "hardsigmoid", "hardswish")


PADDING_FORMS = ("padding must be an int, a pair (height, width), a 4-tuple (top, bottom, "
                 "left, right), 'valid' or 'same'")


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
        raise ValueError(f"{PADDING_FORMS}, got {padding!r}")
    try:
        ph, pw = pair(padding, "padding")
    except TypeError:
        raise TypeError(f"{PADDING_FORMS}, got {padding!r}") from None
    require(ph >= 0 and pw >= 0, f"padding must be non-negative, got {padding!r}")
    return (ph, ph, pw, pw)


def workload(x_shape, w_shape, bias_shape=None, dtype="float32", stride=1, padding=0,
             dilation=1, groups=1, activation=None, residual=False, weight_block=None,
             op="conv2d", extra=None):
    """Validate shapes and parameters; return the workload of operator ``op``.

    ``activation``, ``residual``: the fused epilogue; ``weight_block``: the weight comes
    pre-packed (see the module docstring). Other convolution algorithms (``conv2d_im2col``,
    ...) pass their ``op`` name and a dict of their own parameters in ``extra``; their
    workloads then carry the same checked convolution fields. Options left at their defaults
    are not stored, so a workload without them keys caches and tuning records as before.
    """
    require(len(x_shape) == 4, f"{op} expects x of rank 4 (N, C, H, W), got shape {tuple(x_shape)}")
    packed_shape = tuple(w_shape)
    if weight_block is not None:
        w_shape = _unpacked_weight_shape(w_shape, weight_block, op)
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
    oh = conv_output_size(h, pads[0] + pads[1], kh, stride[0], dilation[0], "height")
    ow = conv_output_size(w, pads[2] + pads[3], kw, stride[1], dilation[1], "width")
    if weight_block is not None:
        w_shape = packed_shape
    shapes = (x_shape, w_shape) + ((bias_shape,) if bias_shape is not None else ())
    params = dict(stride=stride, padding=pads, dilation=dilation, **(extra or {}))
    if op != "depthwise_conv2d":
        params["groups"] = groups
    if activation is not None:
        require(activation in ACTIVATIONS,
                f"activation must be None or one of {ACTIVATIONS}, got {activation!r}")
        params["activation"] = activation
    if not isinstance(residual, (bool, np.bool_)):
        raise TypeError(f"residual must be a bool, got {residual!r}")
    if residual:
        params["residual"] = True
        shapes += ((n, o, oh, ow),)
    if weight_block is not None:
        params["weight_block"] = int(weight_block)
    return Workload.make(op, shapes, dtype, **params)


def _unpacked_weight_shape(w_shape, block, op):
    """The (O, C/groups, KH, KW) shape of a weight packed in ``block``-channel panels."""
    require(op == "conv2d", f"{op} takes no pre-packed weight (weight_block)")
    require(is_int(block) and block >= 1,
            f"weight_block must be a positive int, got {block!r}")
    require(len(w_shape) == 5 and w_shape[4] == block,
            f"a weight packed with weight_block={block} must have shape "
            f"(O/{block}, C/groups, KH, KW, {block}), got {tuple(w_shape)}")
    return _unpacked(w_shape)


def _unpacked(w_shape):
    """(O/b, C/groups, KH, KW, b) -> (O, C/groups, KH, KW)."""
    return (w_shape[0] * w_shape[4], *w_shape[1:4])


def weight_shape(w_shape, block):
    """Shape of an (O, C/groups, KH, KW) weight packed in ``block``-channel panels."""
    o, cg, kh, kw = w_shape
    require(o % block == 0,
            f"weight_block={block} must divide the {o} output channels")
    return (o // block, cg, kh, kw, block)


def pack_weight(weight, block):
    """numpy: (O, C/groups, KH, KW) -> (O/block, C/groups, KH, KW, block), the layout of
    ``weight_block=block``."""
    o, cg, kh, kw = weight.shape
    packed = weight.reshape(weight_shape(weight.shape, block)[:1] + (block, cg, kh, kw))
    return np.ascontiguousarray(packed.transpose(0, 2, 3, 4, 1))


def has_bias(wl):
    """Whether a convolution workload takes a bias (its third input)."""
    return len(wl.shapes) - bool(wl.get("residual")) == 3


def output_shape(wl):
    (n, _, h, w), (o, _, kh, kw) = wl.shapes[0], _logical_weight_shape(wl)
    (sh, sw), (dh, dw), (pt, pb, pl, pr) = wl["stride"], wl["dilation"], wl["padding"]
    return (n, o, conv_output_size(h, pt + pb, kh, sh, dh, "height"),
            conv_output_size(w, pl + pr, kw, sw, dw, "width"))


def _logical_weight_shape(wl):
    """(O, C/groups, KH, KW), also for a pre-packed weight."""
    w_shape = wl.shapes[1]
    return _unpacked(w_shape) if len(w_shape) == 5 else w_shape


def flops(wl):
    n, o, oh, ow = output_shape(wl)
    _, cg, kh, kw = _logical_weight_shape(wl)
    return 2 * n * o * oh * ow * cg * kh * kw + n * o * oh * ow * epilogue_ops(wl)


def epilogue_ops(wl):
    """Operations per output element of the epilogue (bias, residual, activation)."""
    return has_bias(wl) + bool(wl.get("residual")) + (wl.get("activation") is not None)


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


#: Cephes' minimax polynomial for ``exp(f) - 1 - f`` over ``|f| <= ln(2) / 2``, float32.
_EXP_POLYNOMIAL = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                   1.6666665459e-1, 5.0000001201e-1)


def exp(value, dtype):
    """``exp(value)`` as vector code. For float32, ``2**n * p(f)`` with ``n = round(value /
    ln 2)`` and Cephes' polynomial ``p`` (within 2 ulp; the algorithm of TVM's
    ``topi.fast_exp``): LLVM turns ``te.exp`` into a scalar libm call per element, which made
    a SiLU epilogue 8x slower than the convolution it ends (1x1, 16 -> 96 channels at
    112 x 112: 1.69 ms against 0.20 ms without it). NaN and +inf propagate; below -88.4 the
    result is about 6e-39 rather than 0. float64 keeps ``te.exp``."""
    if dtype != "float32":
        return te.exp(value)
    const = functools.partial(tirx.const, dtype=dtype)
    x = te.max(te.min(value, const(88.3762626647950)), const(-88.3762626647949))
    n = te.floor(x * const(1.44269504088896341) + const(0.5))
    f = x - n * const(0.6931471805599453)
    poly = const(_EXP_POLYNOMIAL[0])
    for c in _EXP_POLYNOMIAL[1:]:
        poly = poly * f + const(c)
    y = poly * f * f + f + const(1)
    scale = tirx.reinterpret(dtype, (n + const(127)).astype("int32") << 23)
    # max with value: +inf stays inf; NaN, which min and max may drop, is put back.
    return te.if_then_else(value != value, value, te.max(scale * y, value))


def _activate(value, activation, dtype):
    if activation == "relu":
        return te.max(value, te.const(0, dtype))
    if activation == "relu6":
        return te.min(te.max(value, te.const(0, dtype)), te.const(6, dtype))
    if activation == "silu":  # x * sigmoid(x), as torch.nn.functional.silu
        return value / (te.const(1, dtype) + exp(-value, dtype))
    if activation == "sigmoid":
        return te.const(1, dtype) / (te.const(1, dtype) + exp(-value, dtype))
    if activation in ("hardsigmoid", "hardswish"):  # relu6(x + 3) / 6, times x for hardswish
        gate = _activate(value + te.const(3, dtype), "relu6", dtype) / te.const(6, dtype)
        return gate if activation == "hardsigmoid" else value * gate
    return value


def epilogue(out, wl, bias=None, residual=None):
    """Output stage ``act(out + bias[channel] + residual)`` named :data:`BIAS_ADD` (one
    element-wise stage, which the schedules fold into the write-back); ``out`` itself when
    the workload has no bias, residual or activation."""
    activation = wl.get("activation")
    if bias is None and residual is None and activation is None:
        return out

    def element(n, o, y, z):
        value = out[n, o, y, z]
        if bias is not None:
            value = value + bias[o]
        if residual is not None:
            value = value + residual[n, o, y, z]
        return _activate(value, activation, out.dtype)

    return te.compute(out.shape, element, name=BIAS_ADD)


def placeholders(wl):
    """Input placeholders ``(x, weight, bias or None, residual or None)`` of a convolution
    workload."""
    x = te.placeholder(wl.shapes[0], wl.dtype, name="X")
    w = te.placeholder(wl.shapes[1], wl.dtype, name="W")
    b = te.placeholder(wl.shapes[2], wl.dtype, name="bias") if has_bias(wl) else None
    r = (te.placeholder(wl.shapes[-1], wl.dtype, name="residual")
         if wl.get("residual") else None)
    return x, w, b, r


def inputs_and_output(inputs, out, wl):
    """The tensors ``compute`` returns: the inputs given (None left out), then the epilogue
    applied to ``out``. ``inputs`` is ``(x, weight, bias, residual)``."""
    *_, bias, residual = inputs
    return [t for t in inputs if t is not None] + [epilogue(out, wl, bias, residual)]


def compute(wl):
    inputs = placeholders(wl)
    x, w = inputs[:2]
    _, o, oh, ow = output_shape(wl)
    _, cg, kh, kw = _logical_weight_shape(wl)
    block = wl.get("weight_block")
    if block is None:
        def weight(f, c, y, z):
            return w[f, c, y, z]
    else:
        def weight(f, c, y, z):
            return w[f // block, c, y, z, f % block]
    (sh, sw), (dh, dw), groups = wl["stride"], wl["dilation"], wl["groups"]
    per_group = o // groups
    xp = pad_input(x, wl["padding"])

    # Without groups every output channel reads every input channel; the general index
    # would make a GPU thread of a partial channel tile (f >= O, computed, never stored) read
    # past the block's shared-memory window.
    def channel(f, rc):
        return rc if groups == 1 else f // per_group * cg + rc

    rc = te.reduce_axis((0, cg), name="rc")
    ry = te.reduce_axis((0, kh), name="ry")
    rx = te.reduce_axis((0, kw), name="rx")
    conv = te.compute(
        output_shape(wl),
        lambda n, f, y, z: te.sum(
            xp[n, channel(f, rc), y * sh + ry * dh, z * sw + rx * dw]
            * weight(f, rc, ry, rx),
            axis=[rc, ry, rx]),
        name=CONV)
    return inputs_and_output(inputs, conv, wl)
