"""Tiling logic shared by the hand schedules (CPU; the CUDA ones add gpu_tiling.py).

Every operator here is a reduction block (``matmul``, ``conv``, ``convolve``) followed, for
convolutions with bias, by an element-wise ``bias_add`` block. The schedules tile the *output*
block, compute the reduction inside each tile into a tile-sized accumulator (registers on CPU,
``local`` memory on CUDA), and write the tile back once.
"""

from tvmprims._tvm import ROOT_BLOCK, partitioned_block_name
from tvmprims.ops.conv2d import BIAS_ADD

from .hardware import cpu_model

__all__ = ["CPU_REGISTER_SCOPE", "CPU_STACK_BYTES", "divisor_at_most", "split_factor",
           "accumulate_locally", "tile_loops", "fuse_parallel", "vector_lanes",
           "vectorize_innermost", "find_block", "loop_extent", "partition_whole_tiles",
           "parallel_vectorized_stage", "phase_planes"]


#: Storage scope of a CPU register tile (an accumulator tile under 1 KiB). TVM's
#: LowerTVMBuiltin turns a constant-size ``global`` allocation that small into a stack array,
#: which LLVM keeps in registers; every other scope, ``local`` included, becomes a
#: ``TVMBackendAllocWorkspace``/``FreeWorkspace`` call pair each time the tile runs (GEMM
#: 1024: 16384 pairs, 6% of the kernel's time). The stack array only pays when the tile is
#: laid out with the SIMD axis innermost and indexed by constants: LLVM splits one it cannot
#: keep whole into scalars and rebuilds the vectors on every FMA (a channels-first 8 x 7
#: conv2d tile ran 1.8x slower). ``matmul_log``, with a libm call per product, keeps ``local``.
CPU_REGISTER_SCOPE = "global"

#: TVM makes a ``global`` allocation of fewer bytes than this a stack array (``kMaxStackAlloca``).
CPU_STACK_BYTES = 1024


def divisor_at_most(extent, limit):
    """Largest divisor of ``extent`` that is <= ``limit``."""
    for factor in range(min(extent, limit), 0, -1):
        if extent % factor == 0:
            return factor
    return 1


def split_factor(extent, preferred, minimum=None):
    """A tile size for an axis of ``extent``: a divisor near ``preferred`` when one exists.

    Divisors avoid the boundary predicates that block vectorisation; when the best divisor is
    below ``minimum`` (primes, awkward sizes) ``preferred`` itself is used and TVM guards the
    last, partial tile. Never larger than ``extent``.
    """
    preferred = min(preferred, extent)
    best = divisor_at_most(extent, preferred)
    minimum = preferred // 2 if minimum is None else minimum
    return best if best >= minimum else preferred


def vector_lanes(target, dtype):
    """SIMD lanes of ``dtype`` on a CPU target: its vector width
    (:func:`~tvmprims.schedules.hardware.cpu_model`, read from the target's LLVM features:
    AVX-512 64 bytes, AVX/AVX2 32, NEON and SSE 16) over the dtype's size."""
    return cpu_model(target).lanes(dtype)


def accumulate_locally(sch, reduction_name, scope=CPU_REGISTER_SCOPE):
    """``(write_back, reduction)`` after giving the reduction a tile-sized accumulator.

    The reduction's result goes to a ``scope`` buffer and a new ``write_back`` block copies it
    out; a ``bias_add`` epilogue (:data:`tvmprims.ops.conv2d.BIAS_ADD`), when the workload has
    one, is folded into that copy. Once the
    write-back is computed at a tile of the reduction (``reverse_compute_at``), the accumulator
    shrinks to the tile: registers on CPU (:data:`CPU_REGISTER_SCOPE`), ``local`` memory on
    CUDA (pass ``scope="local"``).
    """
    reduction = sch.get_sblock(reduction_name)
    write_back = sch.cache_write(reduction, 0, scope)
    epilogue = find_block(sch, BIAS_ADD)
    if epilogue is not None:
        sch.reverse_compute_inline(epilogue)
    return write_back, reduction


def tile_loops(sch, loops, factors):
    """Split each loop by its factor (``None``: keep whole); returns ``(outers, inners)``.

    Outer and inner loops are reordered so that all outers come first, each group keeping
    the original axis order.
    """
    outers, inners = [], []
    for loop, factor in zip(loops, factors):
        if factor is None:
            outers.append(loop)
            continue
        outer, inner = sch.split(loop, [None, factor])
        outers.append(outer)
        inners.append(inner)
    sch.reorder(*outers, *inners)
    return outers, inners


def fuse_parallel(sch, loops):
    """Fuse ``loops`` (outermost first) and mark the result ``parallel``; returns it."""
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    sch.parallel(fused)
    return fused


def vectorize_innermost(sch, block, lanes):
    """Vectorise a block's innermost loop, split to ``lanes`` when it is longer.

    Does nothing when that loop also holds other blocks (a write-back computed at a tile
    whose inner extent is 1 has no loop of its own): vectorising it would vectorise them too.
    """
    loops = sch.get_loops(block)
    if not loops or len(sch.get_child_blocks(loops[-1])) != 1:
        return
    loop = loops[-1]
    extent = _extent(sch, loop)
    if extent is None or extent <= 1:
        return
    if extent > lanes:
        _, loop = sch.split(loop, [None, split_factor(extent, lanes)])
    sch.vectorize(loop)


def _extent(sch, loop):
    extent = sch.get(loop).extent
    return int(extent) if hasattr(extent, "value") or isinstance(extent, int) else None


def loop_extent(sch, loop):
    """A loop's constant extent (int)."""
    return _extent(sch, loop)


def find_block(sch, name):
    """The block called ``name``, or None when the workload has no such stage."""
    for block in sch.get_child_blocks(sch.get_sblock(ROOT_BLOCK)):
        if sch.get(block).name_hint == name:
            return block
    return None


def partition_whole_tiles(sch, block_name, extent, tile):
    """Partition a block's outermost loop into a multiple of ``tile`` and a short remainder
    (``loop_partition``), so the main part needs no boundary predicate.

    Returns the name of the block that covers the whole tiles: the original name when the
    extent already is a multiple of ``tile`` or shorter than one tile.
    """
    whole = extent // tile * tile
    if whole == 0 or whole == extent:
        return block_name
    loop = sch.get_loops(sch.get_sblock(block_name))[0]
    var = sch.get(loop).loop_var.name
    sch.loop_partition(loop, [whole, None])
    return partitioned_block_name(block_name, var, 0)


def parallel_vectorized_stage(sch, block, lanes, parallel_loops=1):
    """Schedule an element-wise stage (padding, packing): parallel outer, SIMD inner loop."""
    loops = sch.get_loops(block)
    if len(loops) > parallel_loops:
        fuse_parallel(sch, loops[:parallel_loops])
    vectorize_innermost(sch, block, lanes)


def phase_planes(sch, block, stride):
    """Store the NCHW image ``block`` writes as ``stride`` planes of every ``stride``-th
    column, ``[n, c, x % stride, y, x // stride]`` (zeros past the end when the width is
    not a multiple), so that a convolution with column stride ``stride`` reads the inputs
    of consecutive outputs of one tap as one contiguous vector instead of a gather."""
    sch.transform_layout(block, ("write", 0),
                         lambda n, c, y, x: (n, c, x % stride, y, x // stride), pad_value=0.0)
