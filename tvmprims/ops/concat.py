"""Concatenation, as ``torch.cat(arrays, dim=axis)``.

The kernel concatenates k >= 1 arrays (R, Q_i, G) along their middle axis into
(R, sum Q_i, G). Any C-contiguous concatenation is one: with R the product of the
dimensions before ``axis``, L_i the product of input i's from ``axis`` on and G the
greatest common divisor of the L_i (Q_i = L_i / G), each output row is the inputs' rows
one after another. :func:`tvmprims.concat` passes its N-D arrays as such views
(:func:`grouped_shapes`; NCHW along channels: R = N, G a multiple of H * W), so the kernel's
innermost loop is a contiguous run of G elements that never straddles two inputs, and one
kernel serves every signature with the same views.
"""
import math

from .._tvm import te
from ..workload import Workload
from ._checks import is_int, require

__all__ = ["workload", "compute", "output_shape", "flops", "CONCAT", "STAGES", "offsets",
           "grouped_shapes"]

#: Stage name: the concatenated output.
CONCAT = "concat"
STAGES = (CONCAT,)


def grouped_shapes(shapes, axis):
    """Check the N-D ``shapes`` of a concatenation along ``axis`` (negative counts from the
    end); return ``(axis, output shape, kernel shapes (R, Q_i, G))``."""
    require(len(shapes) >= 1, "concat expects at least one array")
    first = tuple(shapes[0])
    rank = len(first)
    require(rank >= 1, "concat expects arrays of rank 1 or more, got a 0-d array")
    if not is_int(axis):
        raise TypeError(f"axis must be an int, got {axis!r}")
    require(-rank <= axis < rank, f"axis {axis} is out of range for arrays of rank {rank}")
    axis = int(axis) % rank
    for i, shape in enumerate(shapes[1:], 1):
        shape = tuple(shape)
        require(len(shape) == rank,
                f"concat expects arrays of one rank: array 0 has shape {first}, array {i} has "
                f"shape {shape}")
        require(all(a == b for d, (a, b) in enumerate(zip(shape, first)) if d != axis),
                f"concat along axis {axis}: array {i} has shape {shape}, which differs from "
                f"array 0's {first} off that axis")
    rows = 1
    for d in first[:axis]:
        rows *= d
    runs = []
    for shape in shapes:
        run = 1
        for d in shape[axis:]:
            run *= d
        runs.append(run)
    group = math.gcd(*runs)
    out = list(first)
    out[axis] = sum(s[axis] for s in shapes)
    return axis, tuple(out), tuple((rows, run // group, group) for run in runs)


def workload(*shapes, dtype="float32"):
    """Validate the kernel shapes (R, Q_i, G); return the concat workload."""
    require(len(shapes) >= 1, "concat expects at least one array")
    for i, shape in enumerate(shapes):
        require(len(shape) == 3, f"the concat kernel takes 3-D arrays (R, Q_i, G) "
                f"(tvmprims.concat reshapes), got shape {tuple(shape)} for array {i}")
        require(shape[0] == shapes[0][0] and shape[2] == shapes[0][2],
                f"the concat kernel takes arrays (R, Q_i, G) with one R and G "
                f"(tvmprims.concat reshapes), got shape {tuple(shape)} for array {i} and "
                f"{tuple(shapes[0])} for array 0")
    return Workload.make("concat", shapes, dtype)


def offsets(wl):
    """Where each input starts along the middle axis, and the total:
    ``(0, Q_0, Q_0 + Q_1, ..., Q)``."""
    starts = [0]
    for shape in wl.shapes:
        starts.append(starts[-1] + shape[1])
    return tuple(starts)


def output_shape(wl):
    return (wl.shapes[0][0], offsets(wl)[-1], wl.shapes[0][2])


def flops(wl):
    return 0  # a copy


def compute(wl):
    inputs = [te.placeholder(s, wl.dtype, name=f"A{i}") for i, s in enumerate(wl.shapes)]
    starts = offsets(wl)

    def body(r, j, t):
        value = None
        for k in reversed(range(len(inputs))):  # the last input needs no test
            read = inputs[k][r, j - starts[k], t]
            value = read if value is None else te.if_then_else(j < starts[k + 1], read, value)
        return value

    return inputs + [te.compute(output_shape(wl), body, name=CONCAT)]
