"""2-D adaptive average pooling, NCHW, as ``torch.nn.functional.adaptive_avg_pool2d``.

Shapes: x (N, C, H, W) -> (N, C, OH, OW); output row ``i`` averages input rows
``floor(i*H/OH)`` to ``ceil((i+1)*H/OH)`` (exclusive), columns likewise. ``output_size`` is
an int or a pair, ``None`` in a pair keeping that input size; ``(1, 1)`` is global average
pooling. When ``OH`` divides ``H`` (and ``OW`` ``W``) the windows are a plain pool with
stride = kernel; otherwise their lengths vary and a longest-window reduction is masked.
"""

from .._tvm import te, tirx
from ..workload import Workload
from ._checks import is_int, require
from ._pool import AVERAGE, POOL, adaptive_axis, check_input, divide, window_reduce

__all__ = ["workload", "compute", "output_shape", "flops", "POOL", "AVERAGE", "STAGES",
           "adaptive_output_size", "adaptive_compute"]

#: Stage names: the window sums, the division by the window sizes.
STAGES = (POOL, AVERAGE)


def adaptive_output_size(op, x_shape, output_size):
    """``(OH, OW)`` from an int, a pair of ints or None (None: the input's size)."""
    check_input(op, x_shape)
    items = (output_size, output_size) if not isinstance(output_size, (tuple, list)) \
        else tuple(output_size)
    if len(items) != 2 or not all(v is None or is_int(v) for v in items):
        raise TypeError(f"output_size must be an int or a pair of ints (or None), got "
                        f"{output_size!r}")
    sizes = tuple(int(x_shape[2 + i] if v is None else v) for i, v in enumerate(items))
    require(min(sizes) >= 1, f"output_size must be positive, got {output_size!r}")
    return sizes


def workload(x_shape, dtype="float32", output_size=1):
    """Validate shapes and parameters; return the adaptive_avg_pool2d workload."""
    sizes = adaptive_output_size("adaptive_avg_pool2d", x_shape, output_size)
    return Workload.make("adaptive_avg_pool2d", (x_shape,), dtype, output_size=sizes)


def output_shape(wl):
    n, c, _, _ = wl.shapes[0]
    return (n, c, *wl["output_size"])


def flops(wl):
    n, c, h, w = wl.shapes[0]
    oh, ow = wl["output_size"]
    # every input element added once per window holding it; one division per output
    return n * c * (h * w + oh * ow) if h % oh == 0 and w % ow == 0 else \
        n * c * oh * ow * (adaptive_axis(h, oh)[2] * adaptive_axis(w, ow)[2] + 1)


def adaptive_compute(wl, reducer, identity=0.0):
    """``(x, pool, (rows, cols))``: the input, the :data:`POOL` stage reducing with
    ``reducer`` (``identity`` outside a shorter window) over torch's adaptive windows, and each axis's window length (a function of
    the output index, or None when constant)."""
    _, _, h, w = wl.shapes[0]
    oh, ow = wl["output_size"]
    x = te.placeholder(wl.shapes[0], wl.dtype, name="X")
    row_start, rows, kh = adaptive_axis(h, oh)
    col_start, cols, kw = adaptive_axis(w, ow)

    def where(y, z, ry, rx):
        conds = ([ry < rows(y)] if rows else []) + ([rx < cols(z)] if cols else [])
        return tirx.all(*conds) if conds else None

    pool = window_reduce(output_shape(wl), reducer,
                         lambda i, j, y, z, ry, rx: x[i, j, row_start(y) + ry, col_start(z) + rx],
                         (kh, kw), where, identity)
    return x, pool, (rows or (lambda y: kh), cols or (lambda z: kw))


def compute(wl):
    x, pool, (rows, cols) = adaptive_compute(wl, te.sum)
    return [x, divide(pool, lambda y, z: rows(y) * cols(z))]
