"""Convolution algorithm search, as cuDNN's find-all-algorithms (``cudnnFind...``) does.

:func:`find_algorithms` compiles every conv2d algorithm that applies to a layer, runs each on
the same random inputs, checks its result against the direct algorithm within a per-algorithm
tolerance, times it, and returns the ranked table.

``conv2d(..., algo="search")`` uses :func:`searched_algorithm`: the fastest accurate
algorithm, searched for once per layer shape, dtype, target and schedule and remembered in a
per-machine JSON file (``$TVMPRIMS_ALGO_CACHE``, default ``~/.cache/tvmprims/algorithms.json``),
so later processes skip the search. ``conv2d(..., algo="auto")`` (the default) uses
:func:`heuristic_algorithm`: a searched choice if one is recorded, else the rules of
:mod:`tvmprims.algorithm_heuristic` (fitted to measured searches), which look at the layer's
shape only, so that only the kernel they pick is compiled (as cuDNN: heuristics by default,
find-all on request).
"""

import json
import warnings
from dataclasses import dataclass, replace

import numpy as np

from . import algorithm_heuristic as _heuristic
from . import forking
from ._version import __version__
from .build import build_workload, forget_calls, target_cache_key
from .json_store import JsonStore, user_cache_path
from .ops._checks import NotApplicable
from .ops.registry import (CONV2D_ALGORITHM_TABLE, PROPAGATES_NON_FINITE,
                           TOLERANCE, algorithm_of, algorithm_workload, conv2d_workload,
                           epilogue_args)
from .ops.registry import layer_args as _layer_args
from .schedules.common import vector_lanes
from .target import resolve_target, target_key
from .workload import SCRATCH_FACTOR, SCRATCH_FLOOR  # noqa: F401  (re-exported)

__all__ = ["AlgorithmResult", "find_algorithms", "choose_algorithm", "heuristic_algorithm",
           "searched_algorithm", "algorithm_of",
           "algorithm_workload", "conv2d_workload", "format_results", "TOLERANCE",
           "PROPAGATES_NON_FINITE",
           "SCRATCH_FACTOR", "SCRATCH_FLOOR", "scratch_budget", "cache_path", "forget_choices"]

# The algorithms, their tolerances (``TOLERANCE``: largest accepted error against direct, in
# units of the dtype's machine epsilon, relative to ``max(1, max|direct|)``) and which of them
# propagate NaN and inf as direct does (``PROPAGATES_NON_FINITE``) are the registry's
# (:data:`tvmprims.ops.registry.CONV2D_ALGORITHM_TABLE`); applicability is each operator's
# ``workload`` raising :class:`~tvmprims.ops.NotApplicable`.

def scratch_budget(direct_wl):
    """Most scratch bytes a searched algorithm may use for the layer of ``direct_wl``
    (:attr:`~tvmprims.Workload.scratch_budget`): the search skips a candidate whose
    intermediate stages need more."""
    return direct_wl.scratch_budget


@dataclass(frozen=True)
class AlgorithmResult:
    """One row of :func:`find_algorithms`.

    ``seconds``/``gflops`` are None when the algorithm did not run. ``gflops`` counts the
    direct convolution's FLOPs for every algorithm, so rows compare by speed. ``error`` is
    ``max|out - direct| / max(1, max|direct|)``. ``status`` is ``"ok"``, or why the row is
    unusable: ``"not applicable: ..."``, ``"inaccurate: ..."``, ``"failed: ..."`` or
    ``"skipped: ..."`` (its scratch memory is over :func:`scratch_budget`).
    """

    algo: str
    seconds: float = None
    gflops: float = None
    error: float = None
    status: str = "ok"

    @property
    def ok(self):
        return self.status == "ok"


def find_algorithms(x_shape, w_shape, bias_shape=None, stride=1, padding=0, dilation=1,
                    groups=1, *, dtype="float32", target=None, schedule="auto",
                    algorithms=None, seed=0, report=None):
    """Try every conv2d algorithm on one layer; return :class:`AlgorithmResult` rows, fastest
    accurate first, then inaccurate, failed and not applicable ones.

    Shapes and parameters are those of :func:`tvmprims.conv2d`. ``algorithms`` limits the
    search (default: every algorithm of the registry's table); ``report`` is called with a
    line per algorithm once the candidates are built, checked and timed.
    """
    target = resolve_target(target)
    direct_wl = conv2d_workload(x_shape, w_shape, bias_shape, dtype, stride, padding, dilation,
                                groups, "direct")
    direct = build_workload(direct_wl, target, schedule)
    arrays = direct.random_inputs(seed)
    expected = direct(*arrays)
    scale = max(1.0, float(np.abs(expected).max()))
    eps = float(np.finfo(np.dtype(direct_wl.dtype)).eps)
    tried = [_try(algo, direct_wl, arrays, expected, scale, eps, target, schedule)
             for algo in algorithms or CONV2D_ALGORITHM_TABLE]
    rows = _timed(tried, arrays, direct_wl.flops)
    if report is not None:
        for row in rows:
            report(format_results([row], header=False))
    rank = {"ok": 0, "inaccurate": 1, "failed": 2, "skipped": 3, "not applicable": 4}
    return sorted(rows, key=lambda r: (rank[r.status.split(":")[0]], r.seconds or 0.0))


#: The search times its candidates in turn, this many rounds, and keeps each one's best: a
#: slow spell of the machine (here, spells of 2x lasting seconds) then costs a candidate one
#: round, not its place (timed one after another, Winograd on AlexNet's 13x13 layers
#: measured 1.5x slower than direct in one search and 1.2x faster in the next).
TIMING_ROUNDS = 3


def _timed(tried, arrays, flops, rounds=TIMING_ROUNDS):
    """The :class:`AlgorithmResult` rows of ``tried`` (``(row, kernel)`` pairs; ``kernel``
    None where the row is final), candidates timed in turn, ``rounds`` times; GFLOP/s count
    ``flops`` (the direct convolution's) for every algorithm."""
    best = {}
    for _ in range(rounds):
        for i, (row, kernel) in enumerate(tried):
            if kernel is not None:
                seconds = kernel.time(*arrays, repeat=2, min_repeat_ms=100).seconds
                best[i] = min(best.get(i, seconds), seconds)
    return [row if kernel is None else
            replace(row, seconds=best[i], gflops=flops / best[i] / 1e9)
            for i, (row, kernel) in enumerate(tried)]


def _try(algo, direct_wl, arrays, expected, scale, eps, target, schedule):
    """``(row, kernel)``: the candidate built and checked against direct (its time still to
    be measured), or ``(row, None)`` with why it does not run."""
    try:
        wl = algorithm_workload(direct_wl, algo)
    except NotApplicable as e:
        return AlgorithmResult(algo, status=f"not applicable: {e}"), None
    scratch, budget = wl.scratch_bytes, scratch_budget(direct_wl)
    if algo != "direct" and scratch > budget:
        return AlgorithmResult(algo, status=f"skipped: needs {scratch / 2**20:.1f} MiB of "
                                            f"scratch memory, over the {budget / 2**20:.1f} MiB "
                                            "budget"), None
    try:
        kernel = build_workload(wl, target, schedule)
        error = float(np.abs(kernel(*arrays) - expected).max()) / scale
        kernel.time(*arrays, repeat=1, min_repeat_ms=20)  # a run that fails, fails here
    except Exception as e:  # a kernel that fails to build or run is reported, not fatal
        return AlgorithmResult(algo, status=f"failed: {type(e).__name__}: {e}"), None
    limit = TOLERANCE[algo] * eps
    status = "ok" if error <= limit else f"inaccurate: error {error:.3g} > {limit:.3g}"
    return AlgorithmResult(algo, error=error, status=status), kernel


def format_results(rows, header=True):
    """A plain-text table of :class:`AlgorithmResult` rows."""
    lines = [f"{'algo':<10} {'ms':>9} {'GFLOP/s':>8} {'error':>9}  status"] if header else []
    for r in rows:
        ms = f"{r.seconds * 1e3:9.3f}" if r.seconds is not None else f"{'-':>9}"
        gf = f"{r.gflops:8.1f}" if r.gflops is not None else f"{'-':>8}"
        err = f"{r.error:9.2e}" if r.error is not None else f"{'-':>9}"
        lines.append(f"{r.algo:<10} {ms} {gf} {err}  {r.status}")
    return "\n".join(lines)


# --- The per-machine choice cache ---------------------------------------------------------------

_lock = forking.lock()
_memory = {}   # ("auto" or "search", workload, target name, schedule) -> chosen workload
_store = {"store": None}


def cache_path():
    """The JSON file remembering chosen algorithms (``$TVMPRIMS_ALGO_CACHE`` overrides)."""
    return user_cache_path("TVMPRIMS_ALGO_CACHE", "algorithms.json")


def _valid_choice(key, entry):
    """Raise unless ``entry`` is a well-formed choice (``{"algo": <a known algorithm>, ...}``)."""
    if not isinstance(entry, dict):
        raise TypeError(f"expected an object, got {type(entry).__name__}")
    algo = entry.get("algo")
    if not isinstance(algo, str) or algo not in CONV2D_ALGORITHM_TABLE:
        raise ValueError(f"'algo' is {algo!r}, expected one of {tuple(CONV2D_ALGORITHM_TABLE)}")


def _choices():
    path = cache_path()
    if _store["store"] is None or _store["store"].path != path:
        _store["store"] = JsonStore(path, "algorithm cache", validate=_valid_choice)
    return _store["store"]


def forget_choices():
    """Forget the choices held in memory (the file stays; delete it to forget for good)."""
    with _lock:
        _memory.clear()
        _store["store"] = None
    forget_calls()


def _file_key(direct_wl, resolved, schedule):
    # A new release may rank algorithms differently: its version is in the key (search again).
    return (f"tvmprims-{__version__} {target_key(resolved)} {schedule} "
            f"{json.dumps(direct_wl.to_json(), sort_keys=True)}")


def _recorded(direct_wl, key, store):
    """The workload of the algorithm the cache file records for ``key``, or None (absent,
    invalid or not applicable: warned)."""
    entry = store.get(key)  # None when absent or invalid (warned)
    if entry is None:
        return None
    try:
        return algorithm_workload(direct_wl, entry["algo"])
    except NotApplicable as e:
        warnings.warn(f"ignoring the algorithm cache's choice {entry['algo']!r} for "
                      f"{direct_wl.describe()} ({store.path}): {e}", stacklevel=5)
        return None


def searched_algorithm(direct_wl, target=None, schedule="auto"):
    """The workload of the fastest accurate algorithm for the layer ``direct_wl`` describes,
    as measured (``conv2d(algo="search")``).

    Looked up in memory, then in the cache file; otherwise searched with
    :func:`find_algorithms` and recorded in both. An invalid entry in the file (unknown
    algorithm, or one that does not apply to this layer) is ignored with a warning and
    replaced by a new search; a file that cannot be written is a warning, and the choice is
    still remembered in memory for this process.
    """
    resolved = resolve_target(target)
    mem_key = ("search", direct_wl, target_cache_key(resolved), schedule)
    chosen = _memory.get(mem_key)
    if chosen is not None:
        return chosen
    key = _file_key(direct_wl, resolved, schedule)
    with _lock:
        store = _choices()
    chosen = _recorded(direct_wl, key, store)
    if chosen is None:
        rows = find_algorithms(*_layer_args(direct_wl), dtype=direct_wl.dtype, target=resolved,
                               schedule=schedule)
        best = rows[0] if rows[0].ok else AlgorithmResult("direct")
        chosen = algorithm_workload(direct_wl, best.algo)
        store.put(key, {"algo": best.algo, "ms": None if best.seconds is None
                        else round(best.seconds * 1e3, 6), "layer": direct_wl.describe()})
    with _lock:
        _memory[mem_key] = chosen
    forget_calls()  # auto now runs the searched choice for this layer
    return chosen


def heuristic_algorithm(direct_wl, target=None, schedule="auto"):
    """The workload of the algorithm ``conv2d(algo="auto")`` runs on the layer of
    ``direct_wl``: a searched choice when one is recorded (in memory or the cache file: a
    measurement beats a prediction), else the rules'
    (:func:`tvmprims.algorithm_heuristic.choose`, within :func:`scratch_budget`; direct on
    targets no rules were fitted for). Compiles and times nothing; records nothing."""
    resolved = resolve_target(target)
    cache_key = target_cache_key(resolved)
    chosen = _memory.get(("search", direct_wl, cache_key, schedule))
    if chosen is None:
        chosen = _memory.get(("auto", direct_wl, cache_key, schedule))
    if chosen is not None:
        return chosen
    with _lock:
        store = _choices()
    chosen = _recorded(direct_wl, _file_key(direct_wl, resolved, schedule), store)
    if chosen is None:
        model = _heuristic.rules_for(resolved)
        algo = ("direct" if model is None
                else _heuristic.choose(direct_wl, model, scratch_budget(direct_wl),
                                       vector_lanes(resolved, direct_wl.dtype)))
        chosen = algorithm_workload(direct_wl, algo)
    with _lock:
        _memory[("auto", direct_wl, cache_key, schedule)] = chosen
    return chosen


def choose_algorithm(direct_wl, target=None, schedule="auto", algo="auto"):
    """The workload ``conv2d(algo=algo)`` runs for the layer of ``direct_wl``: ``"auto"``
    :func:`heuristic_algorithm` (one compile), ``"search"`` :func:`searched_algorithm`
    (every candidate compiled and timed once per machine). A fused epilogue (activation,
    residual) does not change the choice: it is made for the bare layer, and shared by every
    epilogue of it."""
    if algo not in _CHOOSERS:
        raise ValueError(f"choose_algorithm: algo must be 'auto' or 'search', got {algo!r}")
    epilogue = epilogue_args(direct_wl)
    if not epilogue["activation"] and not epilogue["residual"]:
        return _CHOOSERS[algo](direct_wl, target, schedule)
    x_shape, w_shape, bias_shape, *rest = _layer_args(direct_wl)
    bare = conv2d_workload(x_shape, w_shape, bias_shape, direct_wl.dtype, *rest)
    return algorithm_workload(direct_wl, algorithm_of(_CHOOSERS[algo](bare, target, schedule)))


_CHOOSERS = {"auto": heuristic_algorithm, "search": searched_algorithm}
