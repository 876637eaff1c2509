"""CPU schedule for ``concat`` (arrays (R, Q_i, G) along their middle axis,
:mod:`tvmprims.ops.concat`).

The middle loop is cut at the inputs' offsets (``loop_partition``), so each input gets a
copy loop of its own with no test of which input an element belongs to; its contiguous
runs of G elements are copied in vectors (a masked last vector). Rows run in parallel
when there are several and the kernel is large, else the runs of each large input.
"""

from tvmprims._tvm import partitioned_block_name
from tvmprims.ops.concat import CONCAT

from ..common import PARALLEL_MIN_ELEMENTS, loop_extent, vectorize_innermost, vector_lanes

__all__ = ["schedule", "part_blocks"]


def part_blocks(sch, wl):
    """Cut the concatenation's middle loop at the inputs' offsets; returns the row loop and
    one block per input, each with loops (its middle range, run) inside."""
    block = sch.get_sblock(CONCAT)
    rows, middle, _ = sch.get_loops(block)
    if len(wl.shapes) == 1:
        return rows, [block]
    var = sch.get(middle).loop_var.name
    sch.loop_partition(middle, [shape[1] for shape in wl.shapes[:-1]] + [None])
    return rows, [sch.get_sblock(partitioned_block_name(CONCAT, var, k))
                  for k in range(len(wl.shapes))]


def schedule(sch, wl, target):
    lanes = vector_lanes(target, wl.dtype)
    rows, parts = part_blocks(sch, wl)
    r, _, g = wl.output_shape
    total = r * wl.output_shape[1] * g
    if r > 1 and total >= PARALLEL_MIN_ELEMENTS:
        sch.parallel(rows)
    for part, shape in zip(parts, wl.shapes):
        middle = sch.get_loops(part)[-2]
        vectorize_innermost(sch, part, lanes)
        if r == 1 and shape[1] * g >= PARALLEL_MIN_ELEMENTS and shape[1] > 1:
            sch.parallel(middle)
