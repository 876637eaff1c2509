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
from dataclasses import asdict, dataclass

import numpy as np

from .._tvm import Schedule, compile_module, create_prim_func, tensor_on, tvm
from ..json_store import JsonStore, user_cache_path
from ..kernel import evaluate_seconds
from ..build import schedule_module
from ..schedules.common import vector_lanes
from ..target import device_for, host_cpu_model, resolve_target, target_key
from ..workload import dtype_name
from . import kernels

__all__ = ["Peaks", "measure_peaks", "machine_peaks", "SWEEP_BYTES", "QUICK_SWEEP_BYTES"]

KIB, MIB = 1 << 10, 1 << 20
#: Triad working sets (bytes of the three arrays) of the full sweep and of the quick one.
SWEEP_BYTES = tuple(24 * KIB << i for i in range(15))           # 24 KiB .. 384 MiB
QUICK_SWEEP_BYTES = tuple(24 * KIB << i for i in range(0, 11, 2))  # 24 KiB .. 24 MiB
#: A GPU's caches are larger: its sweep starts at 384 KiB and ends at 1.5 GiB.
GPU_SWEEP_BYTES = tuple(384 * KIB << i for i in range(13))
GPU_QUICK_SWEEP_BYTES = tuple(384 * KIB << i for i in range(0, 13, 3))


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
    if target.kind.name == "cuda":
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


def _triad_gbps(target, dtype, footprint, parallel):
    itemsize = np.dtype(dtype).itemsize
    sched = schedule_module(target, "roofline")
    if target.kind.name == "cuda":
        quantum = sched.THREADS * 4
        schedule = sched.schedule_stream_triad
    else:
        lanes = vector_lanes(target, dtype)
        quantum = 4 * lanes * (sched.TRIAD_TASK // (4 * lanes) if parallel else 1)
        schedule = lambda s: sched.schedule_stream_triad(s, lanes, parallel)  # noqa: E731
    n = max(quantum, footprint // (3 * itemsize) // quantum * quantum)
    module = _compile(kernels.stream_triad(n, dtype), schedule, target)
    arrays = [np.ones(n, dtype), np.ones(n, dtype), np.empty(n, dtype)]
    seconds = _seconds(module, arrays, device_for(target), 20)
    return 3 * n * itemsize / seconds / 1e9


def measure_peaks(target=None, dtype="float32", quick=False, report=None):
    """Measure the roofs of ``target`` (``"llvm"``: this CPU; ``"cuda"``: the local GPU).

    ``quick`` runs the short sweep (up to 24 MiB on a CPU: caches and the start of DRAM) and
    fewer accumulator counts. ``report`` is called with a line per measurement (progress).
    Raises ``RuntimeError`` for a CUDA target without a GPU.
    """
    target = resolve_target(target)
    dtype = dtype_name(dtype)
    report = report or (lambda message: None)
    device = device_for(target)
    if target.kind.name == "cuda":
        if not (tvm.runtime.enabled("cuda") and device.exist):
            raise RuntimeError("measuring CUDA peaks needs a CUDA GPU and none is present")
        cores, name = device.multi_processor_count, device.device_name
        sweep = GPU_QUICK_SWEEP_BYTES if quick else GPU_SWEEP_BYTES
        gflops = max(_fma_gflops(target, dtype, cores * 8 * 256, chains, 1, 64, 256)
                     for chains in ((4, 8) if quick else (2, 4, 8, 16)))
        report(f"FMA peak: {gflops:.0f} GFLOP/s on {cores} multiprocessors")
        gflops_core = None
    else:
        cores, name = int(target.attrs.get("num-cores", 1)), host_cpu_model()
        sweep = QUICK_SWEEP_BYTES if quick else SWEEP_BYTES
        lanes = vector_lanes(target, dtype)
        registers = 32 if lanes * np.dtype(dtype).itemsize == 64 else 16
        candidates = range(4, registers, 2 if quick else 1)
        per_chains = {}
        for chains in candidates:
            per_chains[chains] = _fma_gflops(target, dtype, 1, chains, lanes, 64 if quick else 256)
            report(f"FMA, one core, {chains} accumulators: {per_chains[chains]:.1f} GFLOP/s")
        chains = max(per_chains, key=per_chains.get)
        gflops_core = per_chains[chains]
        gflops = max(_fma_gflops(target, dtype, cores, chains, lanes, 64 if quick else 256)
                     for _ in range(2))
        report(f"FMA, {cores} cores: {gflops:.1f} GFLOP/s ({chains} accumulators per core)")
        if gflops < gflops_core:
            # Parallel kernels wait for their slowest thread: a busy core drags all down.
            report("all cores slower than one: is something else running? Using one core's")
            gflops = gflops_core
    bandwidth = []
    for footprint in sweep:
        one = None if target.kind.name == "cuda" else _triad_gbps(target, dtype, footprint, False)
        every = _triad_gbps(target, dtype, footprint, True)
        if one is not None:
            every = max(every, one)  # tiny arrays: one core beats the dispatch to all of them
        bandwidth.append((footprint, one, every))
        one_text = "" if one is None else f"{one:.1f} GB/s one core, "
        report(f"triad {footprint / KIB:.0f} KiB: {one_text}{every:.1f} GB/s all")
    return Peaks(target_key(target), name, dtype, cores, gflops, gflops_core, tuple(bandwidth),
                 bool(quick))


def cache_path():
    """The JSON file keeping measured peaks (``$TVMPRIMS_PEAKS_CACHE`` overrides)."""
    return user_cache_path("TVMPRIMS_PEAKS_CACHE", "peaks.json")


def machine_peaks(target=None, dtype="float32", quick=False, refresh=False, report=None):
    """:func:`measure_peaks`, measured once per target, dtype and sweep and then read back
    from :func:`cache_path` (``refresh=True`` measures again). A full sweep serves quick
    requests too."""
    target = resolve_target(target)
    dtype = dtype_name(dtype)
    store = JsonStore(cache_path(), "peaks cache")
    keys = [f"{target_key(target)} {dtype} {sweep}" for sweep in
            (("full", "quick") if quick else ("full",))]
    if not refresh:
        for key in keys:
            entry = store.get(key)
            if entry is not None:
                try:
                    return Peaks.from_json(entry)
                except (TypeError, KeyError, ValueError):
                    pass  # an entry of an older format: measure again
    peaks = measure_peaks(target, dtype, quick, report)
    store.put(keys[-1], peaks.to_json())
    return peaks
