"""CUDA schedule for ``winograd_weight`` (U = G g G^T, see :mod:`tvmprims.ops.winograd_weight`).

The filter-transform stage of ``conv2d_winograd``'s CUDA schedule
(:func:`tvmprims.schedules.cuda.conv2d_winograd.schedule_weight_transform`):

1. **One thread per (output channel, input channel)** transforms one 3x3 filter into its
   alpha x alpha U values; consecutive threads take consecutive input channels, so the
   stores of U (contiguous in C) are coalesced.
2. **Unrolled** alpha x alpha and alpha x 3 loops (coefficient selects fold to constants),
   the row pass G g held in registers.
"""

from .conv2d_winograd import schedule_weight_transform

__all__ = ["schedule"]


def schedule(sch, wl, target):
    schedule_weight_transform(sch)
