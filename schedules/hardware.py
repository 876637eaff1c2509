"""The hardware model of the schedules: every hardware fact a hand schedule uses comes from here.

CPU (:class:`CpuModel`, :func:`cpu_model`): vector width and vector registers, read from the
target's LLVM CPU features, the per-core caches (:class:`CpuCaches`: the host's when the target
is the host's CPU, LLVM's target having none), and the schedule parameters derived from them
(:class:`CpuParams`: register budgets of the direct, Winograd and FFT conv2d schedules, the
GEMM register tile). CUDA (:class:`GpuModel`, :func:`gpu_model`): multiprocessors, threads per
block, shared memory per block and warp size, read from the ``cuda`` target.

The CPU schedules size their vectors and register tiles from this model, never
from CPU names: LLVM's feature set for the target's ``mtriple``, ``mcpu`` and ``mattr`` decides.
So a CPU LLVM knows but tvmprims has never seen gets the right width, and ``mattr`` can turn a
feature off (``"-avx512f"``) or on.

=========================  ============  ================  ==============================
features (first match)     vector bytes  vector registers  e.g.
=========================  ============  ================  ==============================
``avx512f``                64            32 (zmm0-31)      znver4, skylake-avx512, icelake
``avx2`` or ``avx``        32            16 (ymm0-15)      znver3, haswell, sandybridge
``neon`` on AArch64        16            32 (v0-31)        cortex-a72, neoverse-v1
``neon`` on 32-bit Arm     16            16 (q0-15)        cortex-a9
anything else (``sse2``)   16            16 (xmm0-15)      x86-64 generic
=========================  ============  ================  ==============================

SVE targets get NEON's 16 bytes: TVM's fixed-width vector code does not use SVE's scalable
registers.
"""

import contextlib
import contextvars
import functools
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .._tvm import Target, host_cpu_name, llvm_cpu_features, llvm_host_triple
from ..target import DEFAULT_CUDA_ARCH

__all__ = ["CpuModel", "cpu_model", "lanes_for", "CpuParams", "cpu_params", "cpu_params_override",
           "cpu_cores", "CpuCaches", "DEFAULT_CACHES", "host_caches", "is_host_cpu",
           "MEASURED_REGISTERS", "DEFAULT_FMA_ISSUE", "default_fma_issue",
           "set_host_fma_issue",
           "GpuModel", "gpu_model", "SM_COUNTS", "DEFAULT_SM_COUNT", "DEFAULT_GPU"]


@dataclass(frozen=True)
class CpuCaches:
    """Per-core data caches of the CPU a target runs on, in bytes.

    LLVM's target says nothing about caches, so they are read from the host
    (:func:`host_caches`) when the target is the host's CPU, and are :data:`DEFAULT_CACHES`
    for any other target (a cross-compile)."""

    l1d_bytes: int = 32 * 1024
    l2_bytes: int = 1024 * 1024


#: Caches of a target that is not this host: Zen 4's (32 KiB L1d, 1 MiB L2 per core), the CPU
#: most cache-sized parameters were measured on.
DEFAULT_CACHES = CpuCaches()


def _cache_size(text):
    """``"48K"`` / ``"2048K"`` / ``"1M"`` (sysfs' notation) in bytes."""
    text = text.strip().upper()
    scale = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(text[-1:], 1)
    return int(text.rstrip("KMG")) * scale


def _sysfs_caches(root=Path("/sys/devices/system/cpu/cpu0/cache")):
    """``{(level, type): bytes}`` of CPU 0's caches from sysfs (empty when unreadable)."""
    found = {}
    for index in sorted(root.glob("index*")):
        try:
            level = int((index / "level").read_text())
            kind = (index / "type").read_text().strip()
            found[(level, kind)] = _cache_size((index / "size").read_text())
        except (OSError, ValueError):
            continue
    return found


@functools.cache
def host_caches():
    """This host's :class:`CpuCaches` (per core): sysfs, then ``sysconf``, then
    :data:`DEFAULT_CACHES` for a size neither reports (read once per process)."""
    sysfs = _sysfs_caches()

    def size(level, kinds, name, default):
        for kind in kinds:
            if sysfs.get((level, kind), 0) > 0:
                return sysfs[(level, kind)]
        try:
            value = os.sysconf(name)
        except (ValueError, OSError):
            value = 0
        return value if value > 0 else default

    return CpuCaches(
        l1d_bytes=size(1, ("Data", "Unified"), "SC_LEVEL1_DCACHE_SIZE", DEFAULT_CACHES.l1d_bytes),
        l2_bytes=size(2, ("Unified", "Data"), "SC_LEVEL2_CACHE_SIZE", DEFAULT_CACHES.l2_bytes))


@dataclass(frozen=True)
class CpuModel:
    """What the CPU schedules need to know about a target's cores.

    Attributes
    ----------
    isa : str
        The vector instruction set the model was read from: ``"avx512"``, ``"avx2"``
        ``"avx"`` (AVX without AVX2), ``"neon"`` or ``"sse"`` (also the fallback for unknown CPUs).
    vector_bytes : int
        Width of one SIMD register in bytes (64, 32 or 16).
    vector_registers : int
        Number of architectural SIMD registers (32 or 16).
    caches : CpuCaches
        Per-core data cache sizes: the host's when the target is the host's CPU
        (:func:`host_caches`), else :data:`DEFAULT_CACHES`.
    host : bool
        Whether the target is the host's CPU (then :attr:`fma_issue` is measured).
    """

    isa: str
    vector_bytes: int
    vector_registers: int
    caches: CpuCaches = field(default=DEFAULT_CACHES)
    host: bool = False

    def lanes(self, dtype):
        """SIMD lanes of ``dtype`` (e.g. ``"float32"``) in one vector register."""
        return lanes_for(self.vector_bytes, dtype)

    @property
    def fma_issue(self):
        """Vector FMAs a core issues per cycle: measured for the host's CPU (the function
        :func:`set_host_fma_issue` installed), else the ISA's :func:`default_fma_issue`. Only
        AVX-512's parameters follow it, so only there is it asked for."""
        if self.host and _host_fma_issue is not None:
            return _host_fma_issue()
        return default_fma_issue(self.isa)

    @property
    def params(self):
        """The :class:`CpuParams` of this model's register file and FMA issue width (or those
        of an enclosing :func:`cpu_params_override`)."""
        override = _params_override.get()
        if override is not None:
            return override
        issue = self.fma_issue if self.isa == "avx512" else default_fma_issue(self.isa)
        return CpuParams.for_registers(self.vector_registers, self.caches, self.vector_bytes,
                                       issue)


#: Vector FMAs per cycle of a CPU whose width is not measured (a target that is not the
#: host's), by ISA (:attr:`CpuModel.isa`): Zen 4's one 512-bit FMA (the CPU the AVX-512
#: parameters were first measured on); two for every other ISA (AVX2 cores since Haswell
#: and Zen, Arm's Neoverse cores have two FMA pipes or more).
DEFAULT_FMA_ISSUE = {"avx512": 1}


def default_fma_issue(isa):
    """:data:`DEFAULT_FMA_ISSUE` of ``isa`` (2 for the ISAs it does not name)."""
    return DEFAULT_FMA_ISSUE.get(isa, 2)


#: The host's FMA issue width, a function of no arguments (measuring it compiles and runs
#: kernels, which is :mod:`tvmprims.roofline.fma_issue`'s job; it installs this).
_host_fma_issue = None


def set_host_fma_issue(function):
    """Install ``function()``: the vector FMAs a core of this host issues per cycle
    (:attr:`CpuModel.fma_issue` of the host's models)."""
    global _host_fma_issue
    _host_fma_issue = function


#: Set by :func:`cpu_params_override` (per thread: MetaSchedule calls a template's schedule
#: function from its worker threads).
_params_override = contextvars.ContextVar("tvmprims_cpu_params_override", default=None)


@contextlib.contextmanager
def cpu_params_override(params):
    """For the duration, every CPU model reports ``params`` (:class:`CpuParams`): a hand
    schedule applied inside it is the same schedule with other tile sizes (the tuning
    templates of :mod:`tvmprims.tuning_templates`)."""
    token = _params_override.set(params)
    try:
        yield
    finally:
        _params_override.reset(token)


def lanes_for(vector_bytes, dtype):
    """Elements of ``dtype`` in ``vector_bytes`` bytes (at least 1)."""
    return max(1, vector_bytes // np.dtype(dtype).itemsize)


#: Vector registers of the machine the CPU schedule parameters were measured on (AVX2, Zen 3).
MEASURED_REGISTERS = 16


@dataclass(frozen=True)
class CpuParams:
    """Register-tile parameters of the CPU hand schedules; the defaults are AVX2's.

    Derived from the vector register count by :meth:`for_registers` (``cpu_params(target)``)::

        parameter            AVX2, AVX, SSE, 32-bit NEON (16)   AVX-512, AArch64 NEON (32)
        conv2d_registers     10 = 16 - 6                        10 (AVX2's); 14 on AVX-512
                                                                cores of two FMAs a cycle
          one-vector tiles   10                                 14 on AVX-512 (NEON: 10)
          narrower vectors   10                                 12 on AVX-512 (NEON: 10)
        winograd_registers   12 = 16 - 4                        12 (AVX2's); 20 on AVX-512
                                                                cores of two FMAs a cycle
        fft_registers        12 = 16 - 4                        12 (kept at the AVX2 value)
        fma_chains           8                                  8
        gemm_rows x vectors  4 x 2 (8 accumulators), K by 4     6 x 2 (12), K by 4 (matmul,
                                                                conv2d_im2col, matmul_log)
        gemm_accumulators    12 (blocked GEMM: 6 x 2)           24 (12 x 2)
        convolve_vectors     4                                  4
        depthwise_vectors    4                                  4

    Except the GEMMs' tiles (a proportion of the register file) and AVX-512's conv2d tiles
    (one-vector ones; two-vector ones on cores that issue two 512-bit FMAs a cycle, which
    LLVM's target does not say: :attr:`CpuModel.fma_issue`, measured on the host),
    32-register ISAs are kept at the AVX2 value: :meth:`for_registers` counts at most
    :data:`MEASURED_REGISTERS`.
    Cache-sized parameters are proportions of the target's L2 (:class:`CpuCaches`):
    ``gemm_in_l2_bytes`` and ``gemm_wide_block_bytes`` half of it,
    ``gemm_columns_outer_a_elements`` a quarter (in float32 elements).
    Measured on Zen 4 (AVX-512) for ``conv2d_registers``: 14 to 26 accumulators gave ResNet-18's
    3x3 layers between 3% faster and 35% slower tiles than 10 (512x7x7 1.31 -> 1.75 ms;
    ``docs/register_budget_sweep.py``). Vector widths do follow the ISA (:class:`CpuModel`).

    Attributes
    ----------
    conv2d_registers : int
        Vector accumulators a direct-conv2d tile may keep in registers
        (``schedules/cpu/conv2d.py``). The weight vectors, a broadcast input and LLVM's reuse
        of inputs across unrolled taps need the other 6 of AVX2's 16 (12 accumulators
        spilled: 16 x 6 ran at 153 GFLOP/s where 16 x 5 ran at 189). Two-vector tiles; see
        the next two for one-vector ones.
    conv2d_one_vector_registers : int
        The same for a tile of one vector of channels (one weight register a step, so more
        accumulators fit): 14 on AVX-512, the most 16-float columns of one row under TVM's
        1 KiB stack-array limit. Measured on an Intel Xeon (kernel, ms, 10 -> 14, the tiling
        key then preferring 16 channels x 14 columns to 32 x 4): ResNet-18's 64x56x56 3x3
        0.66 -> 0.58, 128x28x28 0.66 -> 0.60, 256x14x14 0.70 -> 0.66; ResNeXt's g32 layers
        of 16 channels a group 0.232 -> 0.204 (stride 2 on 28 x 28), 0.144 -> 0.130
        (``docs/register_budget_sweep.py``). Not measured on Zen 4 or NEON (NEON keeps 10).
    conv2d_narrow_registers : int
        The same for a vector narrower than the target's (groups of 8 float32 channels on
        AVX-512): 12 there. Xeon, ResNeXt's 256x28x28 g32 (8 channels a group) 0.219 (10)
        -> 0.188 (12: 4 rows x 3 + 2 + 2 columns) against 0.219 (14: 1 row x 14), g64's
        512x28x28 0.469 -> 0.391 (14: 0.480).
    winograd_registers : int
        Vector accumulators of a Winograd batched-GEMM tile
        (``schedules/cpu/conv2d_winograd.py``); 4 registers left for the operands. 20 on
        AVX-512 cores of two FMAs a cycle, where the 12 of AVX2 (tiles of 4 x 2 on 64 or 256
        output channels: 8 FMA chains for two pipes of 4 cycles' latency) left them
        waiting: Xeon, kernel, ms, 12 -> 20 (tiles of 8 x 2), ResNet-18's 128x28x28 0.488 ->
        0.474, 64x56x56 0.429 -> 0.420, VGG's 256x56x56 4.36 -> 4.12
        (``PYTHONPATH=docs:. python docs/winograd_shuffles.py``, its last two columns).
    fft_registers : int
        Vector accumulators of a tile of the FFT convolution's GEMM stages
        (``schedules/cpu/conv2d_fft.py``); 4 registers left for the operands.
    fma_chains : int
        Independent accumulators that hide the FMA latency (4 cycles on 2 pipes on AVX2
        cores): a direct-conv2d tile with fewer stalls on its own additions (16 x 2 ran at
        100 GFLOP/s, 8 x 7 at 160).
    gemm_rows, gemm_vectors, gemm_k_unroll : int
        GEMM register tile (``schedules/gemm_tiling.py``): ``gemm_rows`` rows by
        ``gemm_vectors`` SIMD vectors of columns (fewer rows when M is smaller, one vector
        when N is), K unrolled by ``gemm_k_unroll`` when it divides K; measured best on
        AVX2. On 32-register ISAs 6 rows: the largest tile of two 64-byte vectors per row
        under TVM's 1 KiB stack-array limit (:data:`~tvmprims.schedules.common.CPU_STACK_BYTES`;
        8 rows would be a heap workspace per tile). On an Intel Xeon (AVX-512, two threads,
        ms, 4 rows -> 6 -> 8): 512x512x512 0.82 -> 0.76 -> 0.78, 1024x64x4096 1.93 -> 1.81
        -> 2.00, 3136x64x100 0.146 -> 0.143 -> 0.158; 1x1 conv2d by im2col 512x28x28 -> 512
        1.49 -> 1.24 -> 1.25 (``docs/gemm_params.py``).
    gemm_accumulators : int
        Vector accumulators of the cache-blocked GEMM's register tile
        (``schedule_cpu_blocked_gemm``: ``gemm_accumulators // gemm_vectors`` rows by
        ``gemm_vectors`` vectors): three quarters of the register file, the rest for the B
        vectors and the broadcast A element. AVX2: 12 (6 x 2; 4 x 2 ran 0.79x numpy on
        64x4096x4096, 6 x 2 0.91x). AVX-512: 24 (12 x 2 zmm; not measured, the proportion
        BLIS's Skylake-X sgemm kernel uses).
    gemm_whole_b_bytes, gemm_in_l2_bytes : int
        Largest B (bytes) matmul/dense multiply with :func:`schedule_cpu_gemm` (all of B
        packed first, register tiles over all of K, each tile written once): B of at most
        ``gemm_whole_b_bytes`` when K is within one K block (``gemm_k_block``), else of at
        most ``gemm_in_l2_bytes`` (half of L2), so that B stays in L2 while the tiles sweep
        it. Measured on Zen 3 (one thread, x numpy): 1024x64x4096 (1 MiB) 1.14 vs 0.90
        blocked; 64x576x4096 (9.4 MiB) 0.34 vs 0.75. On an Intel Xeon (2 MiB L2, a
        socket-wide L3; two threads, ms, whole B -> blocked) a B streamed from L3 runs at
        a third of the blocked GEMM's speed: 1024^3 (4 MiB) 15.2 -> 7.3, 256x2048x512
        (4 MiB) 5.7 -> 1.6, 256x1024x384 (1.5 MiB) 1.18 -> 0.58; 512^3 (1 MiB) 0.83 -> 0.77.
        On Zen 3 and 4 (before 2026-12-07: whole B up to 4 MiB at any K) 256x576x1000
        (2.3 MiB) ran 0.89x numpy against the blocked path's 0.73x, so there a B beyond
        half of L2 streamed from the faster core-complex L3 at less cost.
    gemm_columns_outer_a_elements : int
        A (elements) below which the packed GEMM's tile loop runs column panels outermost
        when A is also smaller than B (``columns_outer`` in
        ``schedules/gemm_tiling.py``): a quarter of L2 in float32 elements (64 Ki on Zen 4,
        256 KiB).
        Measured on Zen 4 (two threads, kernel only, ms, rows outer -> columns outer):
        1x1 144x56x56 -> 24 0.18-0.45 -> 0.13, 192x28x28 -> 32 0.08-0.20 -> 0.05-0.06,
        576x14x14 -> 96 0.15-0.25 -> 0.13-0.16, 24x56x56 -> 144 0.12-0.17 -> 0.10-0.11;
        slower with a larger A: 320x7x7 -> 1280 (A 1.6 MiB) 0.24 -> 0.25-0.29,
        GEMM 1024x64x4095 (A 256 KiB, output-bound) 2.6 -> 3.3.
    gemm_k_block, gemm_n_block : int
        K rows and columns of the block of B the blocked GEMM packs at a time (128 x 64
        floats, 32 KiB: its panels are reused by every register tile of a column block
        from L1/L2). Measured on Zen 3 (64x4096x4096): 128 x 64 best of 128/256 x 64/128.
        ``gemm_k_block`` grows with L1d (128 rows per 32 KiB; the K block is the nearest
        size that divides K, :func:`~tvmprims.schedules.gemm_tiling.k_block`): 192 on an
        Intel Xeon's 48 KiB (two threads, ms, 128 -> 192): 1000^3 6.43 -> 5.91, 1024^3
        7.30 -> 6.68, 2048^3 68.1 -> 52.7, 1024x9216x257 18.1 -> 17.0, 256x2304x1000
        3.56 -> 3.63, 32x1024x4095 1.10 -> 1.17.
    gemm_wide_block_bytes : int
        Largest ``kc`` x N block of B (bytes) for which the blocked GEMM takes all of N as one
        column block (``gemm_blocks``): A, read in place, is then swept once, not once per
        64-column block; half of L2 (Zen 4: 512 KiB; the block stays there while the rows
        sweep it). Measured on Zen 4 (two threads, kernel, ms, 64 columns -> all): 1024x9216x257
        30.1-31.5 -> 28.9-29.4 (three processes; numpy 24.6-24.9), 256x2304x1000 7.19 -> 6.73
        (numpy 6.40); 32x1024x4095 (a 2 MiB block, so not taken) 1.85 -> 2.63.
    gemv_max_rows : int
        Most rows M for which matmul/dense take the few-rows path (``schedule_cpu_gemv``,
        B read once in place). Measured on Zen 3, K = N = 4096: at M = 4 the GEMV ran 1.27x
        numpy and the blocked GEMM 0.75x, at M = 8 0.9-1.4x and 0.76x, at M = 16 0.43x and 0.77x.
    gemv_result_bytes : int
        Rows of C one chunk of the GEMV path accumulates (its width times M times the
        itemsize; kept in L2): 64 KiB ran M = 8 1.4x faster than 16 KiB.
    gemv_k_unroll : int
        Rows of B the GEMV path reads at once (and adds into C between loads and stores of C).
    gemv_split_k : bool
        On several cores, the GEMV path splits K among them (each core accumulates its part
        of K into its own partial result, summed after: ``gemv_k_parts``) instead of splitting
        the columns (each core accumulating in C in place, where cores write the same cache
        lines at chunk borders when C's rows are not a whole number of lines).
    cache_line_bytes : int
        Bytes of a data cache line (64 on x86-64 and Arm Neoverse cores): the alignment of
        the rows of per-core partial results, so that no two cores write one line.
    convolve_vectors : int
        SIMD vectors of outputs ``convolve`` accumulates per block (``schedules/cpu/convolve.py``).
    depthwise_vectors : int
        Most SIMD vectors of a row a ``depthwise_conv2d`` tile accumulates
        (``schedules/cpu/depthwise_conv2d.py``).
    plane_sum_vector_bytes : int
        Widest vector (bytes) the global-pooling schedule sums a plane's H*W elements in, and
        the squeeze-and-excitation 1x1 convolutions their dot products
        (:func:`~tvmprims.schedules.common.schedule_plane_sums`): 32 (8 floats) on every ISA.
        Measured on Zen 4 (one thread, kernel only, us, 64-byte -> 32-byte vectors):
        1x2048x7x7 7.2 -> 4.9, 1x512x13x13 5.2 -> 3.5, 8x512x7x7 15.0 -> 11.3,
        1x256x56x56 38 -> 35; 16-byte vectors were no faster anywhere. A plane is short,
        so a wider vector leaves a longer horizontal sum and tail for fewer full vectors.
    plane_sum_parallel_elements : int
        Input elements from which that schedule runs its planes in parallel; below, the
        thread pool's start costs more than the second core saves. Measured on Zen 4 with
        2 cores (kernel only, us, one thread -> two): 1x512x7x7 (25 Ki elements) 1.2 -> 1.7,
        1x1024x7x7 (49 Ki) 2.4 -> 2.2, 1x1280x7x7 (61 Ki) 4.1 -> 2.4, 8x512x7x7 (196 Ki)
        10.8 -> 5.8.
    """

    conv2d_registers: int = 10
    winograd_registers: int = 12
    fft_registers: int = 12
    fma_chains: int = 8
    gemm_rows: int = 4
    gemm_vectors: int = 2
    gemm_k_unroll: int = 4
    convolve_vectors: int = 4
    depthwise_vectors: int = 4
    gemm_accumulators: int = 12
    gemm_whole_b_bytes: int = 4 * 1024 * 1024
    gemm_in_l2_bytes: int = 512 * 1024
    gemm_columns_outer_a_elements: int = 64 * 1024
    gemm_k_block: int = 128
    gemm_n_block: int = 64
    gemm_wide_block_bytes: int = 512 * 1024
    gemv_max_rows: int = 8
    gemv_result_bytes: int = 64 * 1024
    gemv_k_unroll: int = 8
    gemv_split_k: bool = True
    cache_line_bytes: int = 64
    plane_sum_vector_bytes: int = 32
    plane_sum_parallel_elements: int = 48 * 1024
    conv2d_one_vector_registers: int = 10
    conv2d_narrow_registers: int = 10

    @classmethod
    def for_registers(cls, vector_registers, caches=DEFAULT_CACHES, vector_bytes=32,
                      fma_issue=1):
        """The parameters for ``vector_registers`` SIMD registers of ``vector_bytes``,
        per-core ``caches`` (:class:`CpuCaches`) and ``fma_issue`` vector FMAs a cycle: the
        budgets are the registers (at most :data:`MEASURED_REGISTERS`) minus those the
        operands need, except AVX-512's conv2d tiles (measured there: one-vector tiles of
        14, and two-vector ones of 14 on cores of two FMAs a cycle); the GEMM's blocks are
        proportions of L2."""
        usable = min(vector_registers, MEASURED_REGISTERS)
        avx512 = vector_registers >= 32 and vector_bytes >= 64
        return cls(conv2d_registers=14 if avx512 and fma_issue >= 2 else usable - 6,
                   conv2d_one_vector_registers=14 if avx512 else usable - 6,
                   conv2d_narrow_registers=12 if avx512 else usable - 6,
                   winograd_registers=20 if avx512 and fma_issue >= 2 else usable - 4,
                   fft_registers=usable - 4, gemm_accumulators=vector_registers * 3 // 4,
                   gemm_rows=6 if vector_registers >= 32 else 4,
                   gemm_k_block=caches.l1d_bytes // 256,
                   gemm_in_l2_bytes=caches.l2_bytes // 2,
                   gemm_wide_block_bytes=caches.l2_bytes // 2,
                   gemm_columns_outer_a_elements=caches.l2_bytes // 16)


def _from_features(features, triple):
    if "avx512f" in features:
        return CpuModel("avx512", 64, 32)
    if "avx2" in features or "avx" in features:
        return CpuModel("avx2" if "avx2" in features else "avx", 32, 16)
    if "neon" in features:
        aarch64 = triple.startswith(("aarch64", "arm64"))
        return CpuModel("neon", 16, 32 if aarch64 else 16)
    return CpuModel("sse", 16, 16)


#: ``(mcpu, mtriple, mattr) -> CpuModel``: asking LLVM for the features takes ~0.4 ms, and
#: every CPU schedule asks.
_models = {}
#: ``id(target) -> (target, CpuModel)``: reading the key's attributes takes ~15 us; schedules
#: ask several times per build with the same Target object. The Target is kept so that its id
#: is not reused; the table is emptied when it grows past a few entries.
_by_object = {}


def cpu_model(target):
    """The :class:`CpuModel` of an ``llvm`` target (cached per mcpu/mtriple/mattr).

    Parameters
    ----------
    target : tvm.target.Target
        Of kind ``llvm``. Its ``mtriple``, ``mcpu`` and ``mattr`` select LLVM's feature set
        (``tvm.target.codegen.llvm_get_cpu_features``); without ``mtriple`` LLVM assumes the
        host's triple, without ``mcpu`` a generic CPU of that triple. The caches are the
        host's when ``mcpu`` and the triple are the host's (``"llvm"`` resolves so).

    Raises
    ------
    ValueError
        For a target that is not a CPU (``cuda``).
    """
    if target.kind.name != "llvm":
        raise ValueError(f"cpu_model needs an 'llvm' target, got {target.kind.name!r}")
    hit = _by_object.get(id(target))
    if hit is not None:
        return hit[1]
    attrs = target.attrs
    key = (str(attrs.get("mcpu", "")), str(attrs.get("mtriple", "")),
           tuple(str(a) for a in attrs.get("mattr", ())))
    model = _models.get(key)
    if model is None:
        host_triple = llvm_host_triple()
        triple = key[1] or host_triple  # LLVM's default when the target names none
        model = _from_features(llvm_cpu_features(target), triple)
        if _is_host(key[0], triple, host_triple):
            model = replace(model, caches=host_caches(), host=True)
        model = _models.setdefault(key, model)
    if len(_by_object) >= 64:
        _by_object.clear()
    _by_object[id(target)] = (target, model)
    return model


def _is_host(mcpu, triple, host_triple):
    return mcpu == host_cpu_name() and triple.split("-")[0] == host_triple.split("-")[0]


def is_host_cpu(target):
    """Whether an ``llvm`` target is this host's CPU (its ``mcpu`` the host's and its triple's
    architecture the host's; ``"llvm"`` resolves so): facts read or measured on the host
    (:class:`CpuCaches`, the FMA issue width of :mod:`tvmprims.roofline.fma_issue`) are the
    target's."""
    host_triple = llvm_host_triple()
    triple = str(target.attrs.get("mtriple", "")) or host_triple
    return _is_host(str(target.attrs.get("mcpu", "")), triple, host_triple)


def cpu_cores(target):
    """Cores a CPU target's parallel loops are spread over (its ``num-cores``, else 1)."""
    return int(target.attrs.get("num-cores", 1))


def cpu_params(target):
    """The :class:`CpuParams` of an ``llvm`` target (``cpu_model(target).params``)."""
    return cpu_model(target).params


# --- CUDA ---------------------------------------------------------------------------------------

#: Streaming multiprocessors per CUDA architecture (H100 SXM and H200: 132). An architecture
#: names a family of chips with different counts (sm_80: A100 108, A30 56), so only the one
#: tvmprims runs on is listed; others get :data:`DEFAULT_SM_COUNT` until added.
SM_COUNTS = {"sm_90": 132, "sm_90a": 132}
#: SM count of an architecture missing from :data:`SM_COUNTS` (the H100's).
DEFAULT_SM_COUNT = SM_COUNTS[DEFAULT_CUDA_ARCH]

#: CUDA's limits when a target does not carry them (TVM's dlight uses the same defaults):
#: threads per block, static shared memory per block (48 KB), warp size.
_CUDA_DEFAULTS = {"max_threads": 1024, "shared": 48 * 1024, "warp": 32}


@dataclass(frozen=True)
class GpuModel:
    """What the CUDA schedules need to know about a GPU, read from the ``cuda`` target.

    Attributes
    ----------
    arch : str
        The target's ``arch`` (``"sm_90"``).
    sm_count : int
        Streaming multiprocessors (:data:`SM_COUNTS` by ``arch``). Taken from the table, not
        from a GPU that happens to be present, so that a kernel is scheduled the same on
        every host.
    max_threads_per_block : int
        The target's ``max_threads_per_block`` or ``max_num_threads`` (1024).
    max_shared_memory_per_block : int
        The target's ``max_shared_memory_per_block``, else CUDA's static limit, 48 KB.
    warp_size : int
        The target's ``thread_warp_size`` (32).
    vector_load_bytes : int
        The widest load one thread issues (``ld.global.v4.f32``: 16 bytes).
    """

    arch: str
    sm_count: int
    max_threads_per_block: int
    max_shared_memory_per_block: int
    warp_size: int
    vector_load_bytes: int = 16

    @property
    def min_blocks(self):
        """Thread blocks a launch should have at least: one per multiprocessor."""
        return self.sm_count

    @property
    def shared_budget(self):
        """Shared memory a thread block may use: two thirds of the limit (32 KB of 48 KB),
        which leaves room for two or more resident blocks per multiprocessor."""
        return self.max_shared_memory_per_block * 2 // 3


def _attr(attrs, names, default):
    for name in names:
        value = attrs.get(name, None)
        if value is not None:
            return int(value)
    return default


def gpu_model(target):
    """The :class:`GpuModel` of a ``cuda`` target, from its attributes (as TVM's dlight reads
    them: ``max_threads_per_block`` or ``max_num_threads``, ``max_shared_memory_per_block``,
    ``thread_warp_size``) and its ``arch``.

    Raises
    ------
    ValueError
        For a target that is not ``cuda``.
    """
    if target.kind.name != "cuda":
        raise ValueError(f"gpu_model needs a 'cuda' target, got {target.kind.name!r}")
    attrs = target.attrs
    arch = str(attrs.get("arch", ""))
    return GpuModel(
        arch=arch,
        sm_count=SM_COUNTS.get(arch, DEFAULT_SM_COUNT),
        max_threads_per_block=_attr(attrs, ("max_threads_per_block", "max_num_threads"),
                                    _CUDA_DEFAULTS["max_threads"]),
        max_shared_memory_per_block=_attr(attrs, ("max_shared_memory_per_block",),
                                          _CUDA_DEFAULTS["shared"]),
        warp_size=_attr(attrs, ("thread_warp_size",), _CUDA_DEFAULTS["warp"]))


#: The model of tvmprims' default CUDA target (``sm_90``): what the CUDA tiling functions
#: assume when they are called without a model.
DEFAULT_GPU = gpu_model(Target({"kind": "cuda", "arch": DEFAULT_CUDA_ARCH}))
