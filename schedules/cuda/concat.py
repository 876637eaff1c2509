"""CUDA schedule for ``concat``: one output element per thread, coalesced
(:func:`~tvmprims.schedules.gpu_tiling.bind_flat`); which input it copies is a test on its
middle index (uniform across a warp except at the inputs' boundaries)."""

from tvmprims.ops.concat import CONCAT

from ..gpu_tiling import bind_flat

__all__ = ["schedule"]


def schedule(sch, wl, target):
    bind_flat(sch, sch.get_loops(sch.get_sblock(CONCAT)))
