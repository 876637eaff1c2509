"""CPU schedule for ``conv2d_fft`` (DFT-as-GEMM convolution, see :mod:`tvmprims.ops.conv2d_fft`).

Every transform stage is a small real GEMM whose output rows end in a contiguous axis of
frequency bins (``KX``, a multiple of 8) or output columns; they share one tiling
(:func:`tile_gemm`), with a register tile chosen per stage (:func:`register_tile`).

1. **Register tiles**: each GEMM stage accumulates a tile of ``rows x parts x vectors`` SIMD
   vectors (at most ``CpuParams.fft_registers`` accumulators: 12 on AVX2) in registers over
   its whole reduction and writes it once: rows of the output (transform rows, or output
   channels for the channel products), both the real and imaginary part (they read the same
   operands), and consecutive vectors of bins. The tile shape maximises multiply-adds per
   load for the stage's operand pattern (:data:`LOADS`: which operand is a broadcast scalar,
   which a vector), counting partial tiles; tiles need not divide their axes (the guard sits
   outside the SIMD loop).
2. **Channel products register-tiled over output channels**: per frequency vector and input
   channel, the input spectrum (re, im) is loaded once and used for a tile of output
   channels; the reduction over the group's input channels runs entirely in registers.
3. **Vectorisation**: the bin (or output column) axis is the SIMD axis of every stage; the
   twiddles are broadcast scalars or contiguous rows. The last stage (Hermitian inverse along
   W) pads its output columns to whole vector tiles (``pad_einsum``: only the small twiddle
   matrix is padded) and its write-back crops them, with the bias added in the same store.
4. **Parallelism**: each stage runs its outer loops (batch x channel, or batch x frequency
   row for the products) over the cores; the cos/sin tables and twiddle matrices are small
   parallel passes.
5. **The filter spectrum in blocks of frequency rows** where the whole of it
   (``O*C/g*P*KX*2`` values, 4.4 GB for 64 -> 64 channels on a 512 x 512 image) is over the
   layer's scratch budget: each block is made right before the products read it, inside
   their parallel loop over frequency rows (:func:`_filter_rows`). Otherwise every stage is
   written once, whole, and read once or per tile row from L2/L3.
"""

import numpy as np

from tvmprims._tvm import padded_name
from tvmprims.ops.conv2d_fft import (BIAS_ADD, DFT_X, DFT_Y, FILTER_X, FILTER_Y, IDFT_X, IDFT_Y,
                                     PRODUCT, TWIDDLE_IX, TWIDDLE_STAGES)

from ..common import (CPU_REGISTER_SCOPE, find_block, fuse_parallel, vector_lanes,
                      vectorize_innermost)
from ..hardware import CpuParams, cpu_params

__all__ = ["schedule", "tile_gemm", "register_tile", "LOADS", "GEMM_STAGES", "TWIDDLE_STAGES"]


def register_tile(row_extent, vector_count, parts, loads, budget=None, row_divides=False):
    """``(rows, vectors)`` of a register tile of ``rows x parts x vectors`` SIMD accumulators
    (at most ``budget``: by default AVX2's ``CpuParams.fft_registers``), maximising
    multiply-adds per load.

    ``loads(rows, vectors)`` counts the loads and broadcasts of one reduction step. Tiles need
    not divide their axes (the last one is guarded); the score counts a partial tile at its
    reduced size. ``row_divides``: only divisors of ``row_extent`` as row tiles.
    """
    budget = CpuParams().fft_registers if budget is None else budget
    best, best_score = (1, 1), 0.0
    for rows in range(1, min(row_extent, budget) + 1):
        if row_divides and row_extent % rows:
            continue
        for vectors in range(1, min(vector_count, budget // (rows * parts)) + 1):
            used = -(-row_extent // rows) * rows * -(-vector_count // vectors) * vectors
            score = (rows * parts * vectors / loads(rows, vectors)
                     * row_extent * vector_count / used)
            if score > best_score + 1e-9:
                best, best_score = (rows, vectors), score
    return best


#: Loads per reduction step of each stage kind, for ``rows x vectors`` tiles (2 parts):
#: ``twiddle``: a broadcast twiddle per row and part, a vector of the data per vector;
#: ``data``: a broadcast sample per row, a vector of twiddles per part and vector;
#: ``product``: the input spectrum (re, im) per vector, the filter's per row and vector;
#: ``inverse`` (one part): a broadcast of the H-inverse per row, a twiddle vector per vector.
LOADS = {
    "twiddle": lambda r, v: v + 2 * r,
    "data": lambda r, v: r + 2 * v,
    "product": lambda r, v: 2 * v + 2 * r * v,
    "inverse": lambda r, v: r + v,
}


def tile_gemm(sch, name, lanes, parallel, row, part, vector, tile, outer=0):
    """Register-tile the GEMM-like stage ``name`` with ``tile = (rows, vectors)``.

    ``parallel``: positions of the spatial loops fused and run over the cores (none: serial);
    ``row``: the position of the register-tiled row axis; ``part``: of the re/im axis (or
    None); ``vector``: of the SIMD axis (its extent a multiple of ``lanes``); ``outer``: loops
    around the stage's own (it was computed at one of another stage's). Loop order: parallel,
    other spatial loops, row tiles, vector tiles, the reduction, then the register tile
    (rows, parts, vectors unrolled; lanes vectorised). Returns ``(parallel loop or None,
    write-back block, block, reduction loops)``.
    """
    rows, vectors = tile
    block = sch.get_sblock(name)
    write_back = sch.cache_write(block, 0, CPU_REGISTER_SCOPE)
    loops = sch.get_loops(block)[outer:]
    kinds = [iv.iter_type for iv in sch.get(block).iter_vars]
    spatial = [lp for lp, k in zip(loops, kinds) if k == 0]
    reduction = [lp for lp, k in zip(loops, kinds) if k != 0]
    ro, ri = sch.split(spatial[row], [None, rows])
    # Lanes split off first, so that a partial vector tile's guard does not involve them.
    vec, vl = sch.split(spatial[vector], [None, lanes])
    vo, vv = sch.split(vec, [None, vectors])
    inner = [ri] + ([spatial[part]] if part is not None else []) + [vv]
    others = [spatial[i] for i in range(len(spatial))
              if i not in parallel and i not in (row, part, vector)]
    par = [spatial[i] for i in parallel]
    sch.reorder(*par, *others, ro, vo, *reduction, *inner, vl)
    fused = fuse_parallel(sch, par) if par else None
    for lp in inner:
        sch.unroll(lp)
    sch.vectorize(vl)
    sch.reverse_compute_at(write_back, vo)
    return fused, write_back, block, reduction


def _finish(sch, block, reduction, write_back, lanes):
    vectorize_innermost(sch, write_back, lanes)
    sch.decompose_reduction(block, reduction[0])


#: ``(parallel, row, part, vector, loads)``: positions of each GEMM stage's spatial loops
#: (see :func:`tile_gemm`) and its kind in :data:`LOADS`; ``idft_x`` is handled by
#: :func:`_inverse_x` (padded columns).
GEMM_STAGES = {
    DFT_X: ([0, 1], 2, 3, 4, "data"),
    DFT_Y: ([0, 1], 2, 3, 4, "twiddle"),
    FILTER_X: ([0, 1], 2, 3, 4, "data"),
    FILTER_Y: ([0, 1], 2, 3, 4, "twiddle"),
    PRODUCT: ([0, 2], 1, 3, 4, "product"),
    IDFT_Y: ([0, 1], 2, 3, 4, "twiddle"),
}


def schedule(sch, wl, target):
    lanes = vector_lanes(target, wl.dtype)
    budget = cpu_params(target).fft_registers
    for name in TWIDDLE_STAGES:
        block = find_block(sch, name)
        if block is not None:
            fuse_parallel(sch, sch.get_loops(block)[:1])

    stages, per_row = [], _spectrum_by_rows(sch, wl)
    for name, (parallel, row, part, vector, kind) in GEMM_STAGES.items():
        block = find_block(sch, name)
        if block is None:  # a partial pipeline (profiling)
            continue
        if name == FILTER_Y and per_row:  # made inside the products' loop (_filter_rows)
            continue
        extents = [int(iv.dom.extent) for iv in sch.get(block).iter_vars]
        tile = register_tile(extents[row], extents[vector] // lanes, 2, LOADS[kind], budget)
        if name == PRODUCT and per_row:
            parallel = PRODUCT_ROWS
        stages.append(tile_gemm(sch, name, lanes, parallel, row, part, vector, tile))
        if name == PRODUCT and per_row:
            stages.append(_filter_rows(sch, stages[-1][0], per_row, lanes, budget))

    if find_block(sch, IDFT_X) is not None:
        stages.append(_inverse_x(sch, wl, lanes, budget))
    for _, write_back, block, reduction in stages:
        _finish(sch, block, reduction, write_back, lanes)


#: The products' parallel loop when the filter spectrum is made per block of frequency rows:
#: the rows only, the batch inside them, so that each block's spectrum serves every image.
PRODUCT_ROWS = [2]

#: Bytes of filter spectrum per block of frequency rows (each core holds one block).
SPECTRUM_BLOCK_BYTES = 8 * 2**20


def _spectrum_by_rows(sch, wl):
    """Frequency rows per block of the filter spectrum, or 0 for the whole spectrum at once:
    blocks when the whole one (``O*C/g*P*KX*2`` values) is over the layer's scratch budget
    (:attr:`~tvmprims.Workload.scratch_budget`), as many rows as fit
    :data:`SPECTRUM_BLOCK_BYTES` (one at least)."""
    block = find_block(sch, FILTER_Y)
    if block is None or find_block(sch, PRODUCT) is None:  # a partial pipeline (profiling)
        return 0
    extents = [int(iv.dom.extent) for iv in sch.get(block).iter_vars]
    o, c, p, part, kx = extents[:5]
    row_bytes = o * c * part * kx * np.dtype(wl.dtype).itemsize
    if row_bytes * p <= wl.scratch_budget:
        return 0
    return max(1, min(p, SPECTRUM_BLOCK_BYTES // row_bytes))


def _filter_rows(sch, rows_loop, rows, lanes, budget):
    """The filter spectrum along H (``filter_y``) computed ``rows`` frequency rows at a time
    inside the products' parallel loop over them (``rows_loop``), right before the products
    read it, instead of all ``P`` rows up front: 4.4 GB -> 8.6 MB per core for 64 -> 64
    channels on a 512 x 512 image, whose data is 128 MB. Its GEMM is the twiddle tile of
    ``rows`` rows, serial (the cores share the blocks); the filter's transform along W is
    read once per block."""
    if rows > 1:
        rows_loop, _ = sch.split(rows_loop, [None, rows])
        sch.parallel(rows_loop)
    block = sch.get_sblock(FILTER_Y)
    sch.compute_at(block, rows_loop, preserve_unit_loops=True)
    _, row, part, vector, kind = GEMM_STAGES[FILTER_Y]
    vectors = int(sch.get(block).iter_vars[vector].dom.extent) // lanes
    tile = register_tile(rows, vectors, 2, LOADS[kind], budget)
    return tile_gemm(sch, FILTER_Y, lanes, [], row, part, vector, tile, outer=1)


def _inverse_x(sch, wl, lanes, budget):
    """The Hermitian inverse along W: output columns padded to whole vector tiles (only the
    twiddle matrix gets padded), the padding cropped and the bias added by the write-back."""
    _, _, oh, ow = wl.output_shape
    # Row tiles must divide the rows here: TVM 0.27 drops the row guard of a partial tile when
    # the crop is inlined into the write-back (it keeps only the column guard).
    rows, vectors = register_tile(oh, -(-ow // lanes), 1, LOADS["inverse"], budget,
                                  row_divides=True)
    width = vectors * lanes
    if ow % width:
        sch.pad_einsum(sch.get_sblock(IDFT_X), [1, 1, 1, width, 1, 1])
        sch.compute_inline(sch.get_sblock(TWIDDLE_IX))
        fuse_parallel(sch, sch.get_loops(sch.get_sblock(padded_name(TWIDDLE_IX)))[:1])
    stage = tile_gemm(sch, IDFT_X, lanes, [0, 1], 2, None, 3, (rows, vectors))
    for epilogue in (padded_name(IDFT_X), BIAS_ADD):
        block = find_block(sch, epilogue)
        if block is not None:
            sch.reverse_compute_inline(block)
    return stage
