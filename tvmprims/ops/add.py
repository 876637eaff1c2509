"""Element-wise sum with an optional fused ReLU: ``a + b`` or ``relu(a + b)`` (residual
connections not fused into a convolution).

The kernel works on 1-D arrays of ``n`` elements: :func:`tvmprims.add` passes arrays of any
(equal) shape as flat views of their C-contiguous data, so one kernel serves every shape
with that many elements and its loop is one contiguous stream (a fused N-D loop would index
with divisions that defeat vectorisation). NaN propagates through the sum and, as in
``torch.relu``, through the ReLU.
"""

from .._tvm import te, tirx
from ..workload import Workload
from ._checks import require

__all__ = ["workload", "compute", "output_shape", "flops", "ADD", "STAGES"]

#: Stage name: the sum (ReLU included).
ADD = "add"
STAGES = (ADD,)


def workload(a_shape, b_shape, dtype="float32", relu=False):
    """Validate shapes and parameters; return the add workload (1-D shapes)."""
    require(len(a_shape) == 1 and tuple(a_shape) == tuple(b_shape),
            f"the add kernel takes two 1-D arrays of one length (tvmprims.add flattens), got "
            f"shapes {tuple(a_shape)} and {tuple(b_shape)}")
    require(isinstance(relu, bool), f"relu must be a bool, got {relu!r}")
    return Workload.make("add", (a_shape, b_shape), dtype, relu=relu)


def output_shape(wl):
    return wl.shapes[0]


def flops(wl):
    return wl.shapes[0][0] * (1 + wl["relu"])


def compute(wl):
    a = te.placeholder(wl.shapes[0], wl.dtype, name="A")
    b = te.placeholder(wl.shapes[1], wl.dtype, name="B")
    zero = tirx.const(0, wl.dtype)

    def body(i):
        s = a[i] + b[i]
        # s < 0 ? 0 : s keeps NaN (max(s, 0) compiles to a select that drops it).
        return tirx.Select(s < zero, zero, s) if wl["relu"] else s

    return [a, b, te.compute(wl.shapes[0], body, name=ADD)]
