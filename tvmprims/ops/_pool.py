"""Compute shared by the 2-D pooling operators (``max_pool2d``, ``avg_pool2d``,
``adaptive_avg_pool2d``, ``adaptive_max_pool2d``), NCHW, as ``torch.nn.functional``'s.

Every pooling operator is a padding stage (absent without padding), a reduction over a
window of each output (:data:`POOL`) and, for averages, a division by the window's divisor
(:data:`AVERAGE`, an epilogue the schedules fold into the reduction's write-back).
"""

from .._tvm import te, tirx
from ._checks import is_int, pair, require

__all__ = ["PAD", "POOL", "AVERAGE", "check_input", "kernel_params", "pool_output_size",
           "pad_to", "nan_max", "window_reduce", "adaptive_axis", "divide", "is_global"]

#: Stage names: the padded input, the window reduction, the average's division.
PAD = "pad"
POOL = "pool"
AVERAGE = "average"


def check_input(op, x_shape):
    require(len(x_shape) == 4,
            f"{op} expects x of rank 4 (N, C, H, W), got shape {tuple(x_shape)}")


def kernel_params(kernel_size, stride, padding, dilation=1):
    """Checked ``(kernel, stride, padding, dilation)`` pairs; ``stride`` None is the kernel
    size (torch's default). Padding at most half the kernel, as torch requires."""
    kernel = pair(kernel_size, "kernel_size")
    require(min(kernel) >= 1, f"kernel_size must be positive, got {kernel_size!r}")
    stride = kernel if stride is None else pair(stride, "stride")
    require(min(stride) >= 1, f"stride must be positive, got {stride!r}")
    dilation = pair(dilation, "dilation")
    require(min(dilation) >= 1, f"dilation must be positive, got {dilation!r}")
    pads = pair(padding, "padding")
    require(min(pads) >= 0, f"padding must be non-negative, got {padding!r}")
    require(all(p <= k // 2 for p, k in zip(pads, kernel)),
            f"padding must be at most half of kernel_size (as in torch), got padding={padding!r}"
            f" and kernel_size={kernel_size!r}")
    return kernel, stride, pads, dilation


def pool_output_size(size, kernel, stride, pad, dilation, ceil_mode, axis):
    """Output length along one axis, torch's rule: with ``ceil_mode`` the last window may run
    past the padded input but must start inside the input or its left padding."""
    span = dilation * (kernel - 1) + 1
    numerator = size + 2 * pad - span + (stride - 1 if ceil_mode else 0)
    out = numerator // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    require(out >= 1,
            f"kernel extent {span} along {axis} (kernel {kernel}, dilation {dilation}) is larger "
            f"than the padded input ({size} + padding {2 * pad})")
    return out


def pad_to(x, top, left, height, width, value, name=PAD):
    """``x`` (N, C, H, W) placed at (``top``, ``left``) in a (N, C, ``height``, ``width``)
    tensor filled with ``value``; ``x`` itself when that is no padding."""
    n, c, h, w = (int(d) for d in x.shape)
    if (top, left, height, width) == (0, 0, h, w):
        return x
    fill = tirx.const(value, x.dtype)
    return te.compute(
        (n, c, height, width),
        lambda i, j, y, z: te.if_then_else(
            te.all(y >= top, y < h + top, z >= left, z < w + left), x[i, j, y - top, z - left],
            fill),
        name=name)


def nan_max():
    """Maximum that propagates NaN, as torch's pooling (``val > max || isnan(val)``); its
    identity is -inf (a window of padding alone is -inf, as in torch)."""
    def combine(a, b):
        return tirx.Select(tirx.Or(b > a, tirx.isnan(b)), b, a)

    return te.comm_reducer(combine, lambda dtype: tirx.const(float("-inf"), dtype),
                           name="nan_max")


def window_reduce(shape, reducer, value, extents, where=None, identity=0.0):
    """The :data:`POOL` stage: ``reducer`` over ``value(n, c, y, x, ry, rx)`` for ``ry`` in
    ``extents[0]``, ``rx`` in ``extents[1]``; where ``where(y, x, ry, rx)`` (when given and
    not None) is false the value is ``identity`` instead (and not read). The mask is in the
    value rather than the reduction's ``where=``, which ``te.create_prim_func`` drops in
    TVM 0.27."""
    ry = te.reduce_axis((0, extents[0]), name="ry")
    rx = te.reduce_axis((0, extents[1]), name="rx")

    def body(n, c, y, x):
        v = value(n, c, y, x, ry, rx)
        cond = where(y, x, ry, rx) if where is not None else None
        if cond is not None:
            v = te.if_then_else(cond, v, tirx.const(identity, v.dtype))
        return reducer(v, axis=[ry, rx])

    return te.compute(shape, body, name=POOL)


def adaptive_axis(size, out):
    """``(start(i), length(i) or None, longest)`` of torch's adaptive windows along one axis:
    ``start = floor(i*size/out)``, ``end = ceil((i+1)*size/out)``. ``length`` is None when every
    window has the same length (``size % out == 0``: a plain pool, stride = kernel)."""
    if size % out == 0:
        k = size // out
        return (lambda i: i * k), None, k
    ends = [-(-((i + 1) * size) // out) for i in range(out)]
    longest = max(e - (i * size) // out for i, e in enumerate(ends))
    return ((lambda i: tirx.floordiv(i * size, out)),
            (lambda i: tirx.floordiv((i + 1) * size + out - 1, out) - tirx.floordiv(i * size, out)),
            longest)


def divide(pool, divisor):
    """The :data:`AVERAGE` stage: ``pool / divisor(y, x)`` (an integer expression)."""
    def body(n, c, y, x):
        d = divisor(y, x)
        d = tirx.const(d, pool.dtype) if is_int(d) else d.astype(pool.dtype)
        return pool[n, c, y, x] / d

    return te.compute(pool.shape, body, name=AVERAGE)


def is_global(wl):
    """True when every output of pooling workload ``wl`` reduces its whole (batch, channel)
    plane (global pooling: a 1 x 1 output): adaptive pools with ``output_size`` (1, 1),
    ``avg_pool2d`` whose kernel is the image, without padding. The CPU schedules then sum
    each plane as one contiguous run of H*W elements."""
    _, _, h, w = wl.shapes[0]
    if "output_size" in dict(wl.params):
        return tuple(wl["output_size"]) == (1, 1)
    return tuple(wl["kernel_size"]) == (h, w) and tuple(wl["padding"]) == (0, 0) \
        and tuple(wl.get("dilation", (1, 1))) == (1, 1)
