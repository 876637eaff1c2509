"""2-D average pooling, NCHW, as ``torch.nn.functional.avg_pool2d``.

Shapes: x (N, C, H, W) -> (N, C, OH, OW), output sizes as :mod:`tvmprims.ops.max_pool2d`'s
(no dilation). Each output is the sum of its window over the zero-padded input divided by
torch's divisor: ``divisor_override`` when given; else with ``count_include_pad`` the window
clipped to the padded input (with ``ceil_mode`` a last window running past the right padding
counts only what lies inside it), without it the window clipped to the input.
"""

from .._tvm import te
from ..workload import Workload
from ._checks import is_int, require
from ._pool import (AVERAGE, PAD, POOL, check_input, divide, kernel_params, pad_to,
                    pool_output_size, window_reduce)

__all__ = ["workload", "compute", "output_shape", "flops", "PAD", "POOL", "AVERAGE", "STAGES"]

#: Stage names: the zero-padded input (absent when no window reaches past the input), the
#: window sums, the division by the divisor.
STAGES = (PAD, POOL, AVERAGE)


def workload(x_shape, dtype="float32", kernel_size=1, stride=None, padding=0, ceil_mode=False,
             count_include_pad=True, divisor_override=None):
    """Validate shapes and parameters; return the avg_pool2d workload."""
    check_input("avg_pool2d", x_shape)
    kernel, stride, pads, _ = kernel_params(kernel_size, stride, padding)
    require(isinstance(ceil_mode, bool), f"ceil_mode must be a bool, got {ceil_mode!r}")
    require(isinstance(count_include_pad, bool),
            f"count_include_pad must be a bool, got {count_include_pad!r}")
    if divisor_override is not None:
        if not is_int(divisor_override):
            raise TypeError(f"divisor_override must be an int or None, got {divisor_override!r}")
        require(divisor_override >= 1,
                f"divisor_override must be positive, got {divisor_override!r}")
        divisor_override = int(divisor_override)
    wl = Workload.make("avg_pool2d", (x_shape,), dtype, kernel_size=kernel, stride=stride,
                       padding=pads, ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                       divisor_override=divisor_override)
    output_shape(wl)  # raises when the kernel does not fit
    return wl


def output_shape(wl):
    n, c, h, w = wl.shapes[0]
    (kh, kw), (sh, sw), (ph, pw) = wl["kernel_size"], wl["stride"], wl["padding"]
    return (n, c, pool_output_size(h, kh, sh, ph, 1, wl["ceil_mode"], "height"),
            pool_output_size(w, kw, sw, pw, 1, wl["ceil_mode"], "width"))


def flops(wl):
    n, c, oh, ow = output_shape(wl)
    kh, kw = wl["kernel_size"]
    return n * c * oh * ow * (kh * kw + 1)


def _window_length(size, kernel, stride, pad, include_pad):
    """Torch's divisor along one axis for output index ``i``: the window clipped to the padded
    input, or (``include_pad`` False) to the input."""
    def length(i):
        start = i * stride - pad
        end = te.min(start + kernel, size + pad)
        if include_pad:
            return end - start
        return te.min(end, size) - te.max(start, 0)
    return length


def compute(wl):
    n, c, h, w = wl.shapes[0]
    _, _, oh, ow = shape = output_shape(wl)
    (kh, kw), (sh, sw), (ph, pw) = wl["kernel_size"], wl["stride"], wl["padding"]
    x = te.placeholder(wl.shapes[0], wl.dtype, name="X")
    height = max(h + 2 * ph, (oh - 1) * sh + kh)
    width = max(w + 2 * pw, (ow - 1) * sw + kw)
    xp = pad_to(x, ph, pw, height, width, 0.0)
    pool = window_reduce(shape, te.sum,
                         lambda i, j, y, z, ry, rx: xp[i, j, y * sh + ry, z * sw + rx], (kh, kw))
    override = wl["divisor_override"]
    if override is not None:
        return [x, divide(pool, lambda y, z: override)]
    rows = _window_length(h, kh, sh, ph, wl["count_include_pad"])
    cols = _window_length(w, kw, sw, pw, wl["count_include_pad"])
    return [x, divide(pool, lambda y, z: rows(y) * cols(z))]
