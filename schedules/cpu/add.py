"""CPU schedule for ``add``: one contiguous stream of vectors, parallel when large
(:func:`~tvmprims.schedules.common.schedule_contiguous`); the ReLU is a vector select."""

from tvmprims.ops.add import ADD

from ..common import schedule_contiguous, vector_lanes

__all__ = ["schedule"]


def schedule(sch, wl, target):
    schedule_contiguous(sch, sch.get_sblock(ADD), vector_lanes(target, wl.dtype))
