"""CUDA schedule for ``scale_channels``: one output element per thread, coalesced
(:func:`~tvmprims.schedules.gpu_tiling.bind_flat`); the factor a thread reads is shared by a
warp's threads within one plane (a broadcast load from cache)."""

from tvmprims.ops.scale_channels import SCALE

from ..gpu_tiling import bind_flat

__all__ = ["schedule"]


def schedule(sch, wl, target):
    bind_flat(sch, sch.get_loops(sch.get_sblock(SCALE)))
