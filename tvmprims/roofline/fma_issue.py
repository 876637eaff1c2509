"""Vector FMAs a CPU core issues per cycle, measured on the host.

LLVM's target does not say it: an Intel Xeon and AMD's Zen 4 have the same AVX-512 features,
but the Xeon issues two 512-bit FMAs a cycle and Zen 4 one (its two 256-bit pipes together),
and which algorithm is fastest for a layer follows (1x1 convolutions: docs/algorithm_choice).
CPUIDs do not say it either (Xeon Scalable models of one generation have one 512-bit FMA
unit or two), so it is measured:

one core's FMA rate with a single accumulator chain (each FMA waits for the one before: one
per FMA latency) against its rate with :data:`CHAINS` independent chains (the pipes full).
The ratio is latency x issue width: about 4 on Zen 4 (AVX-512), 8 on the Xeon (AVX-512) and on
Zen 3/4 with AVX2. Intel's cores since Skylake and AMD's since Zen 3 have an FMA latency of
:data:`FMA_LATENCY_CYCLES`, so the issue width is the ratio over it, rounded.

Measured once per host CPU and target (about 0.6 s: two micro-kernels compiled and timed; one
process at a time, the others wait for its result) and kept with the machine peaks
(``$TVMPRIMS_PEAKS_CACHE``); ``$TVMPRIMS_FMA_ISSUE`` sets it instead. A target that is not
the host's CPU (a cross-compile) gets its ISA's default
(:func:`~tvmprims.schedules.hardware.default_fma_issue`). The algorithm rules
follow it (:func:`tvmprims.algorithm_heuristic.rules_for`).
"""

import contextlib
import fcntl
import math
import os
import warnings

import numpy as np

from .. import forking
from ..build import schedule_module
from ..json_store import JsonStore
from ..schedules.hardware import (cpu_model, default_fma_issue, is_host_cpu,
                                  set_host_fma_issue)
from ..target import device_for, host_cpu_model, resolve_target, target_key
from . import kernels
from .peaks import _compile, _seconds, cache_path

__all__ = ["fma_issue", "measure_fma_ratio", "issue_from_ratio",
           "FMA_LATENCY_CYCLES", "CHAINS", "ENV"]

#: FMA latency in cycles of the x86 cores tvmprims runs on (Skylake to Granite Rapids, Zen 3-4).
FMA_LATENCY_CYCLES = 4
#: Independent accumulator chains of the full-rate kernel: more than latency x issue width of
#: any core above (8), and in registers on 16-register ISAs too (on the Xeon, AVX2 code, one
#: core: 8 chains 108 GFLOP/s, 10 123, 12 74, spilled; ``docs/fma_chains.py``).
CHAINS = 10
#: Environment variable that sets the issue width (a positive integer) instead of measuring it.
ENV = "TVMPRIMS_FMA_ISSUE"
#: Most vector FMAs per cycle a measurement may report (a higher one is noise).
MAX_ISSUE = 4

_memory = {}
_lock = forking.lock()


def issue_from_ratio(ratio):
    """Vector FMAs per cycle of a core whose ``CHAINS``-chain FMA rate is ``ratio`` times its
    one-chain rate: ``ratio / FMA_LATENCY_CYCLES`` rounded, between 1 and :data:`MAX_ISSUE`."""
    if not math.isfinite(ratio) or ratio <= 0:
        raise ValueError(f"FMA rate ratio {ratio!r} is not a positive number")
    return int(min(MAX_ISSUE, max(1, math.floor(ratio / FMA_LATENCY_CYCLES + 0.5))))


def measure_fma_ratio(target, lanes, tries=3):
    """One core's FMA rate with :data:`CHAINS` chains of ``lanes``-wide vectors over its rate
    with one chain, on ``target`` (the host's CPU); each the best of ``tries`` alternating
    timings (a timing that shared the core with another process only reads low)."""
    sched = schedule_module(target, "roofline")
    repeats, taps = 64, 256
    rng = np.random.default_rng(0)
    runs = []
    for chains in (1, CHAINS):
        elements = chains * lanes
        module = _compile(kernels.peak_fma(elements, repeats, taps, "float32"),
                          lambda s, c=chains: sched.schedule_peak_fma(s, 1, c, lanes), target)
        # Taps of 1/taps keep the sums near x: no overflow or denormals.
        arrays = [rng.random(elements).astype("float32"),
                  np.full(taps, 1.0 / taps, "float32"), np.empty(elements, "float32")]
        runs.append((module, arrays, elements * repeats * taps))
    device = device_for(target)
    rates = [0.0, 0.0]
    for _ in range(tries):
        for i, (module, arrays, fmas) in enumerate(runs):
            rates[i] = max(rates[i], fmas / _seconds(module, arrays, device, 10))
    return rates[1] / rates[0]


def _valid(entry):
    if isinstance(entry, bool) or not isinstance(entry, int) or not 1 <= entry <= MAX_ISSUE:
        raise ValueError(f"FMA issue width {entry!r} is not an integer from 1 to {MAX_ISSUE}")
    return entry


def _from_env():
    text = os.environ.get(ENV)
    if not text:
        return None
    try:
        return _valid(int(text))
    except ValueError:
        raise ValueError(f"${ENV} is {text!r}: expected an integer from 1 to {MAX_ISSUE} "
                         "(vector FMAs a core issues per cycle)") from None


def fma_issue(target):
    """Vector FMAs a core of ``target`` (a resolved ``llvm`` Target) issues per cycle, in its
    vectors: ``$TVMPRIMS_FMA_ISSUE``; for a target that is not the host's CPU its ISA's
    :func:`~tvmprims.schedules.hardware.default_fma_issue`; else measured once
    (:func:`measure_fma_ratio`) and kept in memory and in the peaks cache file, keyed by the
    target and the host's CPU model. Processes that start together measure one at a time (a
    file lock), so that none times its kernels while another does, and the later ones read
    the first one's result. A measurement that fails
    (a kernel that does not build or run) warns and gives the ISA's default."""
    given = _from_env()
    if given is not None:
        return given
    model = cpu_model(target)
    default = default_fma_issue(model.isa)
    if not is_host_cpu(target):
        return default
    lanes = model.lanes("float32")
    key = f"fma-issue {target_key(target)} {lanes} {host_cpu_model()}"
    known = _memory.get(key)
    if known is not None:
        return known
    with _lock:  # one thread measures, the others wait for its result
        known = _memory.get(key)
        if known is not None:
            return known
        path = cache_path()
        issue = _stored(path, key)
        if issue is None:
            with _measurement_lock(path):
                issue = _stored(path, key)  # measured by another process meanwhile
                if issue is None:
                    try:
                        issue = issue_from_ratio(measure_fma_ratio(target, lanes))
                    except (RuntimeError, OSError, ValueError) as e:
                        warnings.warn(f"could not measure this CPU's FMA issue width ({e}); "
                                      f"using {default}, the default of {model.isa} (set "
                                      f"${ENV} to choose)", stacklevel=2)
                        return default
                    JsonStore(path, "peaks cache").put(key, issue)
        _memory[key] = issue
        return issue


def _stored(path, key):
    return JsonStore(path, "peaks cache", validate=lambda k, v: _valid(v)).get(key)


@contextlib.contextmanager
def _measurement_lock(path):
    """An exclusive lock on ``<path>.fma.lock`` (none when the directory is not writable)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.with_name(path.name + ".fma.lock"), os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        fd = None
    if fd is None:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


#: The host's measured issue width once known (a list of at most one), so that the CPU
#: schedules' parameters, asked for several times a build, cost no key look-up (40 us).
_host_issue = []


def _host_fma_issue():
    """:func:`fma_issue` of the host's CPU (``$TVMPRIMS_FMA_ISSUE`` first, as there)."""
    given = _from_env()
    if given is not None:
        return given
    if not _host_issue:
        _host_issue.append(fma_issue(resolve_target(None)))
    return _host_issue[0]


# The CPU schedules' parameters follow the host's issue width (AVX-512's direct conv2d
# tiles); schedules/ cannot measure it (that compiles and runs kernels), so it is given them.
set_host_fma_issue(_host_fma_issue)
