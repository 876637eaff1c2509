"""CUDA schedule for ``convolve`` (1-D convolution, numpy semantics, any mode).

``out[i] = sum_j a_padded[i + j] * v[m - 1 - j]``: each output is a dot product of the
(reversed) filter with a window of the signal, and neighbouring outputs share all but one
element of their windows.

1. **Block tiles over outputs**: a thread block computes ``BT = threads x per_thread``
   consecutive outputs (128 x 4 for long signals); small outputs get smaller tiles
   (``shrink_to_fill``) so that at least one block per multiprocessor is busy. Thread
   ``t`` owns outputs ``t, t + threads, ...`` of the tile (interleaved, as virtual threads),
   so a warp reads 32 consecutive shared-memory words (no bank conflicts) and stores 32
   consecutive outputs (coalesced).
2. **Register accumulators**: each thread keeps its ``per_thread`` sums in registers
   (``local``) over the whole filter and stores them once.
3. **Filter in chunks, staged in shared memory**: the filter is walked in chunks of ``J``
   taps: a divisor of m near 256 when there is one, else the whole filter when it fits in
   shared memory (chunks must divide m, see ``bind_spatial_tiles``). For each chunk the
   block copies the ``J`` taps of ``v`` and the ``BT + J - 1`` signal elements its outputs
   need into shared memory (all threads together, coalesced), then every thread runs the
   chunk from shared memory. Each signal element fetched from global memory serves up to
   ``J`` outputs, each filter tap all ``BT`` outputs of the block (a broadcast read).
4. **Zero padding inlined into the fetch**: ``full`` and ``same`` read a zero-padded signal;
   that padding stage is computed inside the shared-memory copy (one bounds test per
   fetched element), not as a separate pass or in the inner loop.
5. **Awkward lengths**: when the output length is not a multiple of the block tile (11023
   for 10000 * 1024 ``full``), the last block computes a whole tile from shared memory and
   only the valid outputs are stored; the fetches are guarded against the signal's bounds.
   No bounds test is left in the inner loop.
"""

from tvmprims.ops.convolve import CONVOLVE

from ..common import accumulate_locally
from ..gpu_tiling import (axis_tile, bind_spatial_tiles, cooperative_fetch, finish_gpu_reduction,
                          reduction_chunk, shrink_to_fill, threads_per_block)
from ..hardware import DEFAULT_GPU, gpu_model

__all__ = ["schedule", "tile_sizes"]

THREADS = 128
PER_THREAD = 4
CHUNK = 256


def tile_sizes(length, taps, itemsize, gpu=None):
    """``(tile, chunk)``: the interleaved :class:`AxisTile` over outputs and the filter chunk
    (a divisor of the filter length; the whole filter when it has no divisor near ``CHUNK``
    and the window and filter still fit in shared memory), for the
    :class:`~tvmprims.schedules.hardware.GpuModel` ``gpu`` (default: ``sm_90``'s)."""
    gpu = gpu or DEFAULT_GPU
    (tile,) = shrink_to_fill((length,), (axis_tile(length, THREADS, PER_THREAD, True),),
                             gpu.min_blocks)
    # Shared memory per chunk J: window tile.size + J - 1 and taps J.
    limit = (gpu.shared_budget // itemsize - tile.size + 1) // 2
    return tile, reduction_chunk(taps, CHUNK, limit)


def schedule(sch, wl, target):
    (length,) = wl.output_shape
    (_,), (taps,) = wl.shapes
    tile, chunk = tile_sizes(length, taps, 8 if wl.dtype == "float64" else 4, gpu_model(target))
    write_back, acc = accumulate_locally(sch, CONVOLVE, "local")
    tiling = bind_spatial_tiles(sch, acc, [tile], chunks=[chunk])
    threads = threads_per_block([tile])
    cooperative_fetch(sch, acc, 0, tiling.chunks[0], threads)  # signal window (padding inlined)
    cooperative_fetch(sch, acc, 1, tiling.chunks[0], threads)  # filter taps
    finish_gpu_reduction(sch, acc, write_back, tiling)
