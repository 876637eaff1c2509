"""CPU schedule for ``winograd_weight`` (U = G g G^T, see :mod:`tvmprims.ops.winograd_weight`).

The same schedule as the filter transform inside ``conv2d_winograd``
(:func:`tvmprims.schedules.cpu.conv2d_winograd.schedule_weight_transform`):

1. **Vectorisation over input channels**: U[xi, nu, o, c] is contiguous in ``c``; one vector
   of input channels is transformed at a time.
2. **Unrolling** of the alpha x alpha (and alpha x 3 row pass) loops, so the coefficient
   selects fold to constants and only nonzero terms are computed.
3. **Fusion**: the row pass (G g) is computed per vector right where the column pass reads it.
4. **Parallelism** over output channels.
"""

from ..common import vector_lanes
from .conv2d_winograd import schedule_weight_transform

__all__ = ["schedule"]


def schedule(sch, wl, target):
    schedule_weight_transform(sch, vector_lanes(target, wl.dtype))
