"""CPU schedule for ``scale_channels``: each (batch, channel) plane is one contiguous run of
H*W elements times one factor: vectors along the plane (the last, partial vector a separate
part of the loop, so the others run unmasked), parallel over planes when the tensor has
:data:`~tvmprims.schedules.common.PARALLEL_MIN_ELEMENTS` elements or more. 1 x 1 planes are
one contiguous stream of x and s alike (:func:`~tvmprims.schedules.common.schedule_contiguous`)."""

from tvmprims.ops.scale_channels import SCALE

from ..common import (PARALLEL_MIN_ELEMENTS, loop_extent, schedule_contiguous, split_factor,
                      vector_lanes)

__all__ = ["schedule", "schedule_planes"]


def schedule_planes(sch, block, lanes, parallel):
    """Vectorise a block with loops ``(n, c, y, x)`` along its fused plane ``(y, x)``; the
    planes' loop ``(n, c)`` parallel when ``parallel``."""
    n, c, y, x = sch.get_loops(block)
    planes = sch.fuse(n, c)
    plane = sch.fuse(y, x)
    size = loop_extent(sch, plane)
    step = None
    if size > lanes:
        step, plane = sch.split(plane, [None, lanes])
    sch.vectorize(plane)
    if parallel:
        sch.parallel(planes)
    if step is not None and size % lanes:
        sch.loop_partition(step, [size // lanes, None])


def schedule(sch, wl, target):
    block = sch.get_sblock(SCALE)
    lanes = vector_lanes(target, wl.dtype)
    n, c, h, w = wl.shapes[0]
    if h * w == 1:
        schedule_contiguous(sch, block, lanes)
        return
    schedule_planes(sch, block, lanes, n * c * h * w >= PARALLEL_MIN_ELEMENTS)
