"""Measured machine peaks: floating-point throughput and memory bandwidth over working-set sizes.

:func:`measure_peaks` compiles the micro-kernels of :mod:`tvmprims.roofline.kernels` for the
target with tvmprims' own schedules and times them with TVM's ``time_evaluator``:

* **FLOP/s**: ``peak_fma`` on one core (no ``parallel``) and on all cores, for several numbers
  of independent accumulator chains (the best is kept: too few leave the FMA pipelines
  waiting, too many spill registers). On CUDA: the whole GPU.
* **Bandwidth**: ``stream_triad`` over working sets (three arrays) from 24 KiB to 384 MiB,
  doubling, on one core and on all cores. The curve steps down at each cache level; the
  largest size is DRAM.

:func:`machine_peaks` measures once per target, dtype and size of sweep and keeps the result in
``$TVMPRIMS_PEAKS_CACHE`` (default ``~/.cache/tvmprims/peaks.json``).
"""

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from .._tvm import Schedule, compile_module, create_prim_func, tensor_on, tvm
from ..json_store import JsonStore, user_cache_path
from ..build import schedule_module
from ..schedules.common import vector_lanes
from ..target import device_for, host_cpu_model, resolve_target, schedule_kind, target_key
from ..timing import evaluate_seconds
from ..workload import dtype_name
from . import kernels

__all__ = ["Peaks", "measure_peaks", "machine_peaks", "remember_peaks", "raise_compute_roof",
           "triad_kernel", "SWEEP_BYTES", "QUICK_SWEEP_BYTES"]

KIB, MIB = 1 << 10, 1 << 20
#: Triad working sets (bytes of the three arrays) of the full sweep and of the quick one.
SWEEP_BYTES = tuple(24 * KIB << i for i in range(15))           # 24 KiB .. 384 MiB
QUICK_SWEEP_BYTES = tuple(24 * KIB << i for i in range(0, 11, 2))  # 24 KiB .. 24 MiB
#: A GPU's caches are larger: its sweep starts at 384 KiB and ends at 1.5 GiB.
GPU_SWEEP_BYTES = tuple(384 * KIB << i for i in range(13))
GPU_QUICK_SWEEP_BYTES = tuple(384 * KIB << i for i in range(0, 13, 3))
#: Tries of the all-core FMA peak (the best is kept).
ALL_CORE_TRIES = 3
#: How far above the measured peak a kernel's rate may be before the peak is measured again.
ROOF_TOLERANCE = 1.05


@dataclass(frozen=True)
class Peaks:
    """Measured roofs of one target.

    Attributes
    ----------
    target : str
        :func:`tvmprims.target.target_key` of the target (``llvm-znver3-2c``, ``cuda-sm_90``).
    device : str
        CPU model or GPU name.
    dtype : str
        Element type the kernels ran in.
    cores : int
        Cores (CPU threads used) or streaming multiprocessors.
    gflops : float
        Peak GFLOP/s of the whole device.
    gflops_core : float or None
        Peak GFLOP/s of one core (CPU only).
    bandwidth : tuple of (bytes, GB/s one core or None, GB/s all cores)
        The triad sweep, by working-set size.
    quick : bool
        Whether this is the short sweep.
    """

    target: str
    device: str
    dtype: str
    cores: int
    gflops: float
    gflops_core: float
    bandwidth: tuple
    quick: bool = False

    @property
    def dram_gbps(self):
        """All-core bandwidth at the largest working set measured (DRAM on the full sweep)."""
        return self.bandwidth[-1][2]

    @property
    def cache_gbps(self):
        """Best all-core bandwidth of the sweep (the fastest cache level)."""
        return max(row[2] for row in self.bandwidth)

    @property
    def ridge(self):
        """Arithmetic intensity (FLOP/byte) where the DRAM roof meets the compute roof."""
        return self.gflops / self.dram_gbps

    def bandwidth_at(self, footprint):
        """All-core GB/s for a working set of ``footprint`` bytes: the measured curve,
        interpolated in log(size), flat beyond its ends."""
        sizes = [math.log(row[0]) for row in self.bandwidth]
        values = [row[2] for row in self.bandwidth]
        return float(np.interp(math.log(max(footprint, 1)), sizes, values))

    def roof(self, intensity, footprint=None):
        """Attainable GFLOP/s at ``intensity`` FLOP/byte: ``min(peak, intensity * bandwidth)``,
        with the DRAM bandwidth, or the bandwidth measured for a working set of
        ``footprint`` bytes (data that stays in cache between calls moves at cache speed)."""
        bandwidth = self.dram_gbps if footprint is None else self.bandwidth_at(footprint)
        return min(self.gflops, intensity * bandwidth)

    def to_json(self):
        return asdict(self)

    @staticmethod
    def from_json(data):
        data = dict(data)
        data["bandwidth"] = tuple(tuple(row) for row in data["bandwidth"])
        return Peaks(**data)

    def summary(self):
        core = f", {self.gflops_core:.1f} per core" if self.gflops_core else ""
        return (f"{self.device} ({self.target}, {self.dtype}): {self.gflops:.1f} GFLOP/s"
                f"{core}; bandwidth {self.cache_gbps:.1f} GB/s best, {self.dram_gbps:.1f} GB/s "
                f"at {self.bandwidth[-1][0] / MIB:.0f} MiB; ridge {self.ridge:.1f} FLOP/byte")


def _compile(tensors, schedule, target):
    sch = Schedule(create_prim_func(tensors))
    schedule(sch)
    return compile_module(sch.mod, target).mod


def _seconds(module, arrays, device, min_repeat_ms):
    args = [tensor_on(a, device) for a in arrays]
    return min(evaluate_seconds(module, device, args, min_repeat_ms=min_repeat_ms))


def _fma_gflops(target, dtype, threads, chains, lanes, repeats, taps=1024):
    """GFLOP/s of ``peak_fma`` with ``threads`` x ``chains`` x ``lanes`` accumulators."""
    sched = schedule_module(target, "roofline")
    elements = threads * chains * lanes
    tensors = kernels.peak_fma(elements, repeats, taps, dtype)
    if schedule_kind(target) == "cuda":
        module = _compile(tensors, lambda s: sched.schedule_peak_fma(s, chains), target)
    else:
        module = _compile(tensors, lambda s: sched.schedule_peak_fma(s, threads, chains, lanes),
                          target)
    rng = np.random.default_rng(0)
    # Taps of 1/taps keep the sums near x: no overflow or denormals however long the chain.
    arrays = [rng.random(elements).astype(dtype), np.full(taps, 1.0 / taps, dtype),
              np.empty(elements, dtype)]
    seconds = _seconds(module, arrays, device_for(target), 50)
    return 2 * elements * repeats * taps / seconds / 1e9


def triad_kernel(target, dtype, footprint, parallel=True):
    """``(module, arrays, bytes)``: the hand-scheduled STREAM triad compiled for ``target``
    over three arrays of about ``footprint`` bytes together (all cores when ``parallel``),
    the numpy arrays to call it on, and the bytes one call moves as STREAM counts them."""
    itemsize = np.dtype(dtype).itemsize
    sched = schedule_module(target, "roofline")
    if schedule_kind(target) == "cuda":
        quantum = sched.THREADS * 4
        schedule = sched.schedule_stream_triad
    else:
        lanes = vector_lanes(target, dtype)
        quantum = 4 * lanes * (sched.TRIAD_TASK // (4 * lanes) if parallel else 1)
        schedule = lambda s: sched.schedule_stream_triad(s, lanes, parallel)  # noqa: E731
    n = max(quantum, footprint // (3 * itemsize) // quantum * quantum)
    module = _compile(kernels.stream_triad(n, dtype), schedule, target)
    arrays = [np.ones(n, dtype), np.ones(n, dtype), np.empty(n, dtype)]
    return module, arrays, 3 * n * itemsize


def _triad_gbps(target, dtype, footprint, parallel):
    module, arrays, moved = triad_kernel(target, dtype, footprint, parallel)
    return moved / _seconds(module, arrays, device_for(target), 20) / 1e9


def _compute_peaks(target, dtype, quick, report):
    """``(cores, device name, GFLOP/s of the device, GFLOP/s of one core or None)``."""
    device = device_for(target)
    if schedule_kind(target) == "cuda":
        if not (tvm.runtime.enabled("cuda") and device.exist):
            raise RuntimeError("measuring CUDA peaks needs a CUDA GPU and none is present")
        cores, name = device.multi_processor_count, device.device_name
        gflops = max(_fma_gflops(target, dtype, cores * 8 * 256, chains, 1, 64, 256)
                     for chains in ((4, 8) if quick else (2, 4, 8, 16)))
        report(f"FMA peak: {gflops:.0f} GFLOP/s on {cores} multiprocessors")
        return cores, name, gflops, None
    cores, name = int(target.attrs.get("num-cores", 1)), host_cpu_model()
    lanes = vector_lanes(target, dtype)
    registers = 32 if lanes * np.dtype(dtype).itemsize == 64 else 16
    repeats = 64 if quick else 256
    # Each kernel gets its own best number of chains: the parallel body holds fewer
    # accumulators in registers than the serial one (8 against 12 on AVX2 Zen 3). The serial
    # sweep runs first: after a parallel kernel, TVM's workers spin a while and slow it.
    candidates = range(4, registers, 2 if quick else 1)
    one_core = {}
    for chains in candidates:
        one_core[chains] = _fma_gflops(target, dtype, 1, chains, lanes, repeats)
        report(f"FMA, one core, {chains} accumulators: {one_core[chains]:.1f} GFLOP/s")
    gflops_core = max(one_core.values())
    if cores == 1:
        return cores, name, gflops_core, gflops_core
    all_cores = {}
    for chains in candidates:
        all_cores[chains] = _fma_gflops(target, dtype, cores, chains, lanes, repeats)
        report(f"FMA, {cores} cores, {chains} accumulators each: "
               f"{all_cores[chains]:.1f} GFLOP/s")
    chains = max(all_cores, key=all_cores.get)
    # A peak is a maximum: a try that shared a core with another process only reads low.
    gflops = max([all_cores[chains]] + [_fma_gflops(target, dtype, cores, chains, lanes, repeats)
                                        for _ in range(ALL_CORE_TRIES - 1)])
    report(f"FMA, {cores} cores: {gflops:.1f} GFLOP/s ({chains} accumulators per core)")
    if gflops < gflops_core:
        # Parallel kernels wait for their slowest thread: a busy core drags all down.
        report("all cores slower than one: is something else running? Using one core's")
        gflops = gflops_core
    return cores, name, gflops, gflops_core


def measure_peaks(target=None, dtype="float32", quick=False, report=None):
    """Measure the roofs of ``target`` (``"llvm"``: this CPU; ``"cuda"``: the local GPU).

    ``quick`` runs the short sweep (up to 24 MiB on a CPU: caches and the start of DRAM) and
    fewer accumulator counts. ``report`` is called with a line per measurement (progress).
    Raises ``RuntimeError`` for a CUDA target without a GPU.
    """
    target = resolve_target(target)
    dtype = dtype_name(dtype)
    report = report or (lambda message: None)
    cores, name, gflops, gflops_core = _compute_peaks(target, dtype, quick, report)
    cuda = schedule_kind(target) == "cuda"
    if cuda:
        sweep = GPU_QUICK_SWEEP_BYTES if quick else GPU_SWEEP_BYTES
    else:
        sweep = QUICK_SWEEP_BYTES if quick else SWEEP_BYTES
    bandwidth = []
    for footprint in sweep:
        one = None if cuda else _triad_gbps(target, dtype, footprint, False)
        every = _triad_gbps(target, dtype, footprint, True)
        if one is not None:
            every = max(every, one)  # tiny arrays: one core beats the dispatch to all of them
        bandwidth.append((footprint, one, every))
        one_text = "" if one is None else f"{one:.1f} GB/s one core, "
        report(f"triad {footprint / KIB:.0f} KiB: {one_text}{every:.1f} GB/s all")
    return Peaks(target_key(target), name, dtype, cores, gflops, gflops_core, tuple(bandwidth),
                 bool(quick))


def raise_compute_roof(peaks, observed_gflops, target=None, tries=3, report=None):
    """``peaks`` with a compute roof that covers ``observed_gflops``, a rate a kernel reached.

    A kernel faster than the measured peak shows that the peak was measured low (another
    process shared the cores then). The FMA peak is measured again, up to ``tries`` times
    until it covers the observation, and the highest measurement is kept, in the cache too
    (:func:`remember_peaks`). Returns ``peaks`` itself when it already covers the observation
    (within 5%, the timings' noise); reports when even the new measurements stay below it.
    """
    report = report or (lambda message: None)
    if observed_gflops <= peaks.gflops * ROOF_TOLERANCE:
        return peaks
    target = resolve_target(target)
    if target_key(target) != peaks.target:
        raise ValueError(f"peaks of {peaks.target} cannot be re-measured on {target_key(target)}")
    report(f"a kernel ran at {observed_gflops:.1f} GFLOP/s, above the measured peak of "
           f"{peaks.gflops:.1f}: measuring the peak again")
    gflops, gflops_core = peaks.gflops, peaks.gflops_core
    for _ in range(tries):
        _, _, again, again_core = _compute_peaks(target, peaks.dtype, peaks.quick, report)
        gflops = max(gflops, again)
        if again_core is not None:  # None on CUDA
            gflops_core = max(gflops_core, again_core)
        if observed_gflops <= gflops * ROOF_TOLERANCE:
            break
    else:
        report(f"the peak measured again is {gflops:.1f} GFLOP/s, still below "
               f"{observed_gflops:.1f}: the timings of this run are not to be trusted")
    return remember_peaks(replace(peaks, gflops=gflops, gflops_core=gflops_core))


def cache_path():
    """The JSON file keeping measured peaks (``$TVMPRIMS_PEAKS_CACHE`` overrides)."""
    return user_cache_path("TVMPRIMS_PEAKS_CACHE", "peaks.json")


def _cache_key(target, dtype, sweep):
    return f"{target} {dtype} {sweep}"


def machine_peaks(target=None, dtype="float32", quick=False, refresh=False, report=None):
    """:func:`measure_peaks`, measured once per target, dtype and sweep and then read back
    from :func:`cache_path` (``refresh=True`` measures again). A full sweep serves quick
    requests too."""
    target = resolve_target(target)
    dtype = dtype_name(dtype)
    if not refresh:
        store = JsonStore(cache_path(), "peaks cache", validate=_valid_entry)
        for sweep in ("full", "quick") if quick else ("full",):
            entry = store.get(_cache_key(target_key(target), dtype, sweep))
            if entry is not None:  # None too when invalid (warned): measured again below
                return Peaks.from_json(entry)
    return remember_peaks(measure_peaks(target, dtype, quick, report))


def _positive(value, name, optional=False):
    if value is None and optional:
        return
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or value <= 0):
        raise ValueError(f"{name} is {value!r}, expected a positive number")


def _valid_entry(key, entry):
    """Raise unless ``entry`` is a usable :class:`Peaks` cached under ``key``: every roof a
    positive finite number, a bandwidth sweep of increasing sizes (an entry of an older
    format, or a damaged one, would divide by zero or index an empty sweep)."""
    peaks = Peaks.from_json(entry)
    if not all(isinstance(v, str) for v in (peaks.target, peaks.device, peaks.dtype)):
        raise TypeError("target, device and dtype must be strings")
    if not isinstance(peaks.quick, bool):
        raise TypeError(f"quick is {peaks.quick!r}, expected true or false")
    if key != _cache_key(peaks.target, peaks.dtype, "quick" if peaks.quick else "full"):
        raise ValueError(f"entry of {peaks.target} {peaks.dtype} stored under another key")
    if isinstance(peaks.cores, bool) or not isinstance(peaks.cores, int) or peaks.cores < 1:
        raise ValueError(f"cores is {peaks.cores!r}, expected a positive integer")
    _positive(peaks.gflops, "gflops")
    _positive(peaks.gflops_core, "gflops_core", optional=True)
    if not peaks.bandwidth:
        raise ValueError("the bandwidth sweep is empty")
    last = 0
    for row in peaks.bandwidth:
        if len(row) != 3:
            raise ValueError(f"bandwidth row {row!r} is not (bytes, one core, all cores)")
        size, one, every = row
        _positive(size, "a bandwidth working set")
        if size <= last:
            raise ValueError("bandwidth working sets are not increasing")
        last = size
        _positive(one, "a one-core bandwidth", optional=True)
        _positive(every, "an all-core bandwidth")


def remember_peaks(peaks):
    """Keep ``peaks`` in :func:`cache_path` for :func:`machine_peaks`; returns ``peaks``."""
    key = _cache_key(peaks.target, peaks.dtype, "quick" if peaks.quick else "full")
    JsonStore(cache_path(), "peaks cache").put(key, peaks.to_json())
    return peaks
