"""CUDA schedule for ``add``: one element per thread, coalesced
(:func:`~tvmprims.schedules.gpu_tiling.bind_flat`)."""

from tvmprims.ops.add import ADD

from ..gpu_tiling import bind_flat

__all__ = ["schedule"]


def schedule(sch, wl, target):
    bind_flat(sch, sch.get_loops(sch.get_sblock(ADD)))
