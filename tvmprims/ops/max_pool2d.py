"""2-D max pooling, NCHW, as ``torch.nn.functional.max_pool2d`` (without ``return_indices``).

Shapes: x (N, C, H, W) -> (N, C, OH, OW) with ``OH = (H + 2*pad - dilation*(KH-1) - 1) //
stride + 1`` (rounded up with ``ceil_mode``, the last window starting inside the input or its
left padding, torch's rule). Padding is -inf; NaN propagates, as in torch.
"""

from .._tvm import te
from ..workload import Workload
from ._checks import require
from ._pool import (PAD, POOL, check_input, kernel_params, nan_max, pad_to, pool_output_size,
                    window_reduce)

__all__ = ["workload", "compute", "output_shape", "flops", "PAD", "POOL", "STAGES"]

#: Stage names: the -inf-padded input (absent when no window reaches past the input), the max.
STAGES = (PAD, POOL)


def workload(x_shape, dtype="float32", kernel_size=1, stride=None, padding=0, dilation=1,
             ceil_mode=False):
    """Validate shapes and parameters; return the max_pool2d workload."""
    check_input("max_pool2d", x_shape)
    kernel, stride, pads, dilation = kernel_params(kernel_size, stride, padding, dilation)
    require(isinstance(ceil_mode, bool), f"ceil_mode must be a bool, got {ceil_mode!r}")
    wl = Workload.make("max_pool2d", (x_shape,), dtype, kernel_size=kernel, stride=stride,
                       padding=pads, dilation=dilation, ceil_mode=ceil_mode)
    output_shape(wl)  # raises when the kernel does not fit
    return wl


def output_shape(wl):
    n, c, h, w = wl.shapes[0]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (wl["kernel_size"], wl["stride"], wl["padding"],
                                              wl["dilation"])
    return (n, c, pool_output_size(h, kh, sh, ph, dh, wl["ceil_mode"], "height"),
            pool_output_size(w, kw, sw, pw, dw, wl["ceil_mode"], "width"))


def flops(wl):
    n, c, oh, ow = output_shape(wl)
    kh, kw = wl["kernel_size"]
    return n * c * oh * ow * kh * kw


def compute(wl):
    n, c, h, w = wl.shapes[0]
    _, _, oh, ow = shape = output_shape(wl)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (wl["kernel_size"], wl["stride"], wl["padding"],
                                              wl["dilation"])
    x = te.placeholder(wl.shapes[0], wl.dtype, name="X")
    # Cover every window: with ceil_mode the last one may run past the right padding.
    height = max(h + 2 * ph, (oh - 1) * sh + dh * (kh - 1) + 1)
    width = max(w + 2 * pw, (ow - 1) * sw + dw * (kw - 1) + 1)
    xp = pad_to(x, ph, pw, height, width, float("-inf"))
    pool = window_reduce(shape, nan_max(),
                         lambda i, j, y, z, ry, rx: xp[i, j, y * sh + ry * dh, z * sw + rx * dw],
                         (kh, kw))
    return [x, pool]
