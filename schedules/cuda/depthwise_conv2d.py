"""CUDA schedule for ``depthwise_conv2d`` (one filter per channel, channel multiplier m).

A depthwise layer does only KH x KW multiply-adds per output and reads each input element
about KH x KW / stride^2 times, so it is bound by memory traffic: the schedule is about
loading each input element from global memory once per block and reusing it from shared
memory.

1. **Block tiles**: a thread block computes a tile of ``BC`` channels x ``BY`` rows x ``BX``
   columns (2 x 8 x 64 for large planes): threads form a 2 x 4 x 32 grid (256 threads), each
   owning 2 rows x 2 columns of one channel. Planes smaller than a tile get one thread per
   row or column and more channels per block, and tiles shrink until the launch has a block
   per multiprocessor (MobileNetV2's 1 x 144 x 56 x 56 stride 2: 28 x 28 outputs, blocks of
   2 channels x 8 rows x 28 columns).
2. **Input tile in shared memory**: the block copies the input window of its tile,
   ``((BY-1)*stride + (KH-1)*dilation + 1) x ((BX-1)*stride + (KW-1)*dilation + 1)`` per
   channel, into shared memory with all threads (consecutive threads, consecutive
   addresses: coalesced), together with the block's ``BC x KH x KW`` filter taps. Every
   input element is then read from global memory once per block instead of up to KH x KW
   times.
3. **Register accumulators**: each thread keeps its outputs in registers (``local``) over
   the KH x KW taps (unrolled) and stores them once, adding the bias in the same store.
   Its columns are 32 apart (interleaved, as virtual threads): a warp stores 32 consecutive
   outputs of a row (coalesced) and reads consecutive shared-memory words.
4. **Padding inlined into the fetch**: the zero padding is computed while copying the
   window to shared memory (one bounds test per fetched element), never in the inner loop.
5. **Awkward shapes**: partial tiles compute whole from shared memory and store only valid
   outputs; the window fetch is guarded against the input bounds. Very large kernels (or
   dilations) that would not fit 32 KB of shared memory are walked in chunks of kernel rows
   and columns, and the tile shrinks if even that is not enough.
"""

from ..gpu_tiling import plan_conv_tiles, schedule_direct_conv
from ..hardware import gpu_model

__all__ = ["schedule", "tile_sizes"]

#: Threads per block along (channels, rows, columns) and outputs per thread.
THREADS = (2, 4, 32)
PER_THREAD = (1, 2, 2)


def tile_sizes(wl, gpu=None):
    """``(tiles, chunks)``: :class:`AxisTile` for (batch, channel, row, column) and the
    chunks of kernel (rows, columns), for the :class:`~tvmprims.schedules.hardware.GpuModel`
    ``gpu`` (default: ``sm_90``'s)."""
    tiles, (_, ry, rx) = plan_conv_tiles(wl, THREADS, PER_THREAD,
                                         8 if wl.dtype == "float64" else 4, gpu=gpu)
    return tiles, (ry, rx)


def schedule(sch, wl, target):
    schedule_direct_conv(sch, *tile_sizes(wl, gpu_model(target)))
