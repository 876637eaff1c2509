"""CUDA schedule for direct ``conv2d`` (NCHW, any stride, padding, dilation, groups).

1. **Block tiles**: a thread block computes a tile of ``BO`` output channels x ``BY`` rows x
   ``BX`` columns of one image (16 x 4 x 32 for large layers): threads form a 4 x 4 x 16 grid
   (256 threads) and each owns 4 channels x 1 row x 2 columns. Tiles shrink for small
   layers (one thread per element along short axes, and smaller tiles until the launch has
   a block per multiprocessor).
2. **Register tiles**: each thread accumulates its 8 outputs in registers (``local``,
   unrolled) over the whole reduction (C/groups x KH x KW) and stores them once, with the
   bias added in the same store when the layer has one. A thread's columns are 16 apart
   (interleaved, as virtual threads), so that a warp stores 16 consecutive outputs of a row
   (coalesced) and reads 16 consecutive input columns (no bank conflicts at stride 1).
3. **Shared-memory staging, input channels in chunks**: the reduction is walked in chunks
   of ``RC`` input channels (a divisor of C/groups, up to 16). For each chunk the block
   copies into shared memory the input window its tile reads (``RC x ((BY-1)*stride +
   (KH-1)*dilation + 1) x (...)``) and the weights ``BO x RC x KH x KW``, all threads
   fetching together with consecutive threads on consecutive addresses; then every thread
   runs the chunk from shared memory. Each input element loaded from global memory serves
   up to ``BO * KH * KW`` multiply-adds of the block, each weight ``BY * BX``. Chunk sizes
   are chosen to fit 32 KB of shared memory (kernel rows and columns are chunked too for
   very large kernels).
4. **Padding inlined into the fetch**: the zero-padding stage never exists in memory; the
   shared-memory copy reads ``x`` with a bounds test per fetched element, so the inner loop
   has none.
5. **Awkward shapes** (1, primes, sizes that are not multiples of the tile): a partial tile
   computes whole from shared memory, its fetches are guarded against the input bounds and
   only valid outputs are stored (see ``bind_spatial_tiles``); chunks always divide their
   axes. Grouped convolutions use the same tiles: a tile's input channels are those of the
   groups its output channels belong to.
"""

from ..gpu_tiling import plan_conv_tiles, schedule_direct_conv
from ..hardware import gpu_model

__all__ = ["schedule", "tile_sizes"]

#: Threads per block along (output channels, rows, columns) and outputs per thread.
THREADS = (4, 4, 16)
PER_THREAD = (4, 1, 2)


def tile_sizes(wl, gpu=None):
    """``(tiles, chunks)``: :class:`AxisTile` for (batch, channel, row, column) and the
    reduction chunks (input channels, kernel rows, kernel columns), for the
    :class:`~tvmprims.schedules.hardware.GpuModel` ``gpu`` (default: ``sm_90``'s)."""
    return plan_conv_tiles(wl, THREADS, PER_THREAD, 8 if wl.dtype == "float64" else 4, gpu=gpu)


def schedule(sch, wl, target):
    schedule_direct_conv(sch, *tile_sizes(wl, gpu_model(target)))
