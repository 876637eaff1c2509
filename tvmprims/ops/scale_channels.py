"""Per-channel scaling, NCHW: ``x * s`` with one factor per (batch, channel) plane, as the
final multiply of a squeeze-and-excitation block (``x * torch.sigmoid(...)`` in
torchvision's ``SqueezeExcitation``, MobileNetV3 and EfficientNet).

Shapes: x (N, C, H, W) and s (N, C, 1, 1) or (N, C) -> (N, C, H, W): ``out[n, c, y, z] =
x[n, c, y, z] * s[n, c]``. NaN and inf propagate as in the product (``0 * inf`` is NaN).
:func:`tvmprims.scale_channels` passes s as (N, C, 1, 1), so one kernel serves both forms.
"""

from .._tvm import te
from ..workload import Workload, check_shapes
from ._checks import require

__all__ = ["workload", "compute", "output_shape", "flops", "check_operands", "SCALE", "STAGES"]

#: Stage name: the product.
SCALE = "scale"
STAGES = (SCALE,)


def check_operands(x_shape, s_shape):
    """``ValueError`` unless x is (N, C, H, W) and s (N, C, 1, 1) or (N, C) (tuples of ints)."""
    require(len(x_shape) == 4,
            f"scale_channels expects x of rank 4 (N, C, H, W), got shape {x_shape}")
    n, c = x_shape[:2]
    require(s_shape in ((n, c, 1, 1), (n, c)),
            f"scale_channels expects s of shape (N, C, 1, 1) or (N, C), here {(n, c, 1, 1)} "
            f"or {(n, c)} for x of shape {x_shape}; got {s_shape}")


def workload(x_shape, s_shape, dtype="float32"):
    """Validate shapes; return the scale_channels workload."""
    x_shape, s_shape = check_shapes("scale_channels", (x_shape, s_shape))
    check_operands(x_shape, s_shape)
    return Workload.make("scale_channels", (x_shape, s_shape), dtype)


def output_shape(wl):
    return wl.shapes[0]


def flops(wl):
    n, c, h, w = wl.shapes[0]
    return n * c * h * w


def compute(wl):
    x = te.placeholder(wl.shapes[0], wl.dtype, name="X")
    s = te.placeholder(wl.shapes[1], wl.dtype, name="S")
    factor = ((lambda n, c: s[n, c, 0, 0]) if len(wl.shapes[1]) == 4 else
              (lambda n, c: s[n, c]))
    return [x, s, te.compute(wl.shapes[0], lambda n, c, y, z: x[n, c, y, z] * factor(n, c),
                             name=SCALE)]
