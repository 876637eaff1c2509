"""The layer suite runner: each case of :mod:`tvmprims.layer_cases` through the public numpy
API against torch or numpy, in the same run.

Per case: the first call on empty caches (:func:`fresh_caches`: compile, and for
``conv2d(algo="auto")`` the algorithm choice), a check of its result against the reference,
then the best time of each side over ``rounds`` interleaved rounds (tvmprims, reference,
tvmprims, ...), each after settling calls that let the other library's worker threads stop
spinning (:func:`tvmprims.timing.interleaved_best`). ``ratio`` is reference time /
tvmprims time: above 1, tvmprims is faster.
Inputs are made as users make them, ``np.random.rand(...).astype(np.float32)`` (not
pre-aligned: the API copies what it must).
Reports (CSV, plot, Markdown) are in :mod:`tvmprims.layer_report`.
"""

import contextlib
import functools
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, replace

import numpy as np

from .timing import SETTLE_SECONDS, geomean, interleaved_best

__all__ = ["CaseCalls", "prepare", "interleaved_best", "relative_error", "tolerance",
           "FRESH_ENV", "fresh_caches", "run_case", "retimed", "RETIME_BELOW", "run",
           "second_pass", "tvm_threads", "roofs_for_threads", "apply_peaks", "geomean",
           "summarize"]


@dataclass
class CaseCalls:
    """What the runner times for one case: ``tvmprims()`` and ``reference()`` return arrays
    (numpy, or torch for the reference); ``algorithm()`` names what tvmprims ran and
    ``executed()`` is the workload it ran (its FLOPs and bytes place it on the roofline);
    both are asked after the first call."""

    tvmprims: object
    reference: object
    reference_name: str
    algorithm: object
    executed: object


def _random(shape, rng):
    # np.random.rand-style float32 data, as users make it (no alignment guarantee)
    return rng.random(shape).astype(np.float32)


def _auto_conv(direct_wl, algo, target, schedule="auto"):
    """``(algorithm(), executed())`` for a conv2d through ``algo`` (``"auto"``: what
    :func:`~tvmprims.algorithms.choose_algorithm` chose, a memory look-up after the first
    call)."""
    from .algorithms import algorithm_of, algorithm_workload, choose_algorithm

    def executed():
        if algo == "auto":
            return choose_algorithm(direct_wl, target, schedule)
        return algorithm_workload(direct_wl, algo)
    return (lambda: algorithm_of(executed())), executed


def prepare(case, rng, target=None, conv_algo="auto", schedule="auto"):
    """The :class:`CaseCalls` of ``case`` on fresh random inputs (tvmprims called with
    ``schedule=``: ``"hand"`` leaves the tuning logs out)."""
    import torch
    import tvmprims
    import tvmprims.nn
    kw = case.kwargs()
    arrays = [_random(s, rng) for s in case.shapes]
    wl = case.workload
    if case.op == "matmul":
        a, b = arrays
        return CaseCalls(lambda: tvmprims.matmul(a, b, target=target, schedule=schedule), lambda: np.matmul(a, b),
                         "numpy", lambda: "matmul", lambda: wl)
    if case.op == "convolve":
        a, v = arrays
        return CaseCalls(lambda: tvmprims.convolve(a, v, kw["mode"], target=target,
                                                         schedule=schedule),
                         lambda: np.convolve(a, v, kw["mode"]), "numpy", lambda: "convolve",
                         lambda: wl)
    tensors = [torch.from_numpy(a) for a in arrays]
    if case.op == "linear":
        x, w, *bias = arrays
        layer = tvmprims.nn.Dense(w, *bias, target=target, schedule=schedule)
        return CaseCalls(lambda: layer(x), lambda: torch.nn.functional.linear(*tensors),
                         "torch", lambda: "dense", lambda: wl)
    algorithm, executed = _auto_conv(wl, conv_algo, target, schedule)
    if case.op == "conv1d":
        call = lambda: tvmprims.conv1d(*arrays, **kw, algo=conv_algo, target=target,  # noqa
                                         schedule=schedule)
        ref = lambda: torch.nn.functional.conv1d(*tensors, **kw)  # noqa: E731
        return CaseCalls(call, ref, "torch", algorithm, executed)
    if case.op != "conv2d":
        raise ValueError(f"unknown suite op {case.op!r}")
    top, bottom, left, right = kw["padding"]
    pad = (left, right, top, bottom)
    torch_kw = dict(stride=kw["stride"], dilation=kw["dilation"], groups=kw["groups"])

    def ref():
        x, *rest = tensors
        # torch pads symmetrically: an uneven (top, bottom, left, right) is padded first
        if top == bottom and left == right:
            return torch.nn.functional.conv2d(x, *rest, padding=(top, left), **torch_kw)
        return torch.nn.functional.conv2d(torch.nn.functional.pad(x, pad), *rest, **torch_kw)
    return CaseCalls(lambda: tvmprims.conv2d(*arrays, **kw, algo=conv_algo, target=target,
                                             schedule=schedule),
                     ref, "torch", algorithm, executed)


def relative_error(out, ref):
    """``max|out - ref| / max|ref|`` (inf when shapes differ or anything is not finite)."""
    out, ref = np.asarray(out, np.float64), np.asarray(ref, np.float64)
    if out.shape != ref.shape:
        return math.inf
    scale = float(np.abs(ref).max(initial=0.0)) or 1.0
    error = float(np.abs(out - ref).max(initial=0.0)) / scale
    return error if math.isfinite(error) else math.inf


def tolerance(algorithm):
    """Largest relative error accepted for ``algorithm``'s result: 1e-4, or the algorithm
    search's own tolerance (:data:`tvmprims.ops.registry.TOLERANCE`) where it is looser."""
    from .ops.registry import TOLERANCE
    return max(1e-4, TOLERANCE.get(algorithm, 0) * float(np.finfo(np.float32).eps))


#: Caches a first call must find empty: the algorithm choices go to a fresh file, the
#: on-disk kernel cache (``tvmprims.kernel_cache``, where present) is off.
FRESH_ENV = {"TVMPRIMS_ALGO_CACHE": "algorithms.json", "TVMPRIMS_KERNEL_CACHE": "off"}


@contextlib.contextmanager
def fresh_caches():
    """For the duration: ``$TVMPRIMS_ALGO_CACHE`` points at a new file (and the in-memory
    choices are forgotten), ``$TVMPRIMS_KERNEL_CACHE`` is off. Every first call compiles and
    searches as on a new machine."""
    from .algorithms import forget_choices
    saved = {name: os.environ.get(name) for name in FRESH_ENV}
    with tempfile.TemporaryDirectory(prefix="tvmprims-suite-") as tmp:
        os.environ["TVMPRIMS_ALGO_CACHE"] = os.path.join(tmp, FRESH_ENV["TVMPRIMS_ALGO_CACHE"])
        os.environ["TVMPRIMS_KERNEL_CACHE"] = FRESH_ENV["TVMPRIMS_KERNEL_CACHE"]
        forget_choices()
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            forget_choices()


def run_case(case, calls, rounds=5, round_seconds=0.05, settle=SETTLE_SECONDS):
    """Measure one case from its :class:`CaseCalls`; returns its row (a dict, times in
    seconds). ``status`` is ``"ok"``, ``"WRONG"`` (relative error over :func:`tolerance`:
    the row keeps its times, flagged) or ``"failed: ..."`` (tvmprims raised; no times)."""
    row = {"category": case.category, "case": case.label, "op": case.op,
           "shapes": " ".join("x".join(map(str, s)) for s in case.shapes),
           "params": " ".join(f"{k}={v}" for k, v in case.params).replace(" ", ""),
           "users": len(case.users), "models": " ".join(case.models),
           "layers": " ".join(case.users), "reference": calls.reference_name,
           "tvmprims_s": None, "ref_s": None, "ratio": None, "gflops": None,
           "ref_gflops": None, "executed_gflops": None, "percent_of_roof": None,
           "first_call_s": None,
           "algorithm": None, "rel_error": None, "status": "ok"}
    from .build import clear_cache
    clear_cache()  # the first call compiles, and compiled kernels do not pile up
    try:
        start = time.perf_counter()
        out = calls.tvmprims()
        row["first_call_s"] = time.perf_counter() - start
        row["algorithm"] = calls.algorithm()
        expected = calls.reference()
        row["rel_error"] = relative_error(out, expected)
        if not row["rel_error"] <= tolerance(row["algorithm"]):
            row["status"] = "WRONG"
        seconds, ref_seconds = interleaved_best((calls.tvmprims, calls.reference), rounds,
                                                round_seconds, settle)
    except Exception as e:  # a case that breaks is a row of the report, not the end of it
        row["status"] = f"failed: {type(e).__name__}: {e}".replace("\n", " ")[:200]
        return row
    return _with_times(row, case, calls.executed(), seconds, ref_seconds)


def _with_times(row, case, executed, seconds, ref_seconds):
    flops = case.workload.flops
    row.update(tvmprims_s=seconds, ref_s=ref_seconds, ratio=ref_seconds / seconds,
               gflops=flops / seconds / 1e9, ref_gflops=flops / ref_seconds / 1e9,
               executed_gflops=executed.executed_flops / seconds / 1e9,
               executed_workload=executed)
    return row


def retimed(case, row, again):
    """``row`` with each side's best time over both of its passes (``again``: the same
    case measured later in the run); first call, algorithm and error stay the first
    pass's, ``retimed`` is set."""
    if row["status"] != "ok" or again["status"] != "ok":
        return row
    row = dict(row, retimed=True)
    return _with_times(row, case, row["executed_workload"],
                       min(row["tvmprims_s"], again["tvmprims_s"]),
                       min(row["ref_s"], again["ref_s"]))


def tvm_threads():
    """Threads of TVM's pool in this process (``$TVM_NUM_THREADS``, by default its cores)."""
    from ._tvm import tvm
    return int(tvm.get_global_func("runtime.NumThreads")())


def roofs_for_threads(peaks, threads):
    """``peaks`` as roofs for a run on ``threads`` threads: one thread is held to one core's
    FMA peak and bandwidth (``TVM_NUM_THREADS=1``), more to the whole machine's."""
    if threads != 1 or peaks.cores == 1 or not peaks.gflops_core:
        return peaks
    one_core = tuple((size, one, one if one else every) for size, one, every in peaks.bandwidth)
    return replace(peaks, gflops=peaks.gflops_core, cores=1, bandwidth=one_core)


def apply_peaks(rows, peaks):
    """Fill the rows' ``percent_of_roof``: the executed GFLOP/s of the workload tvmprims ran
    (a Winograd layer's own FLOPs) against the roof at its intensity, with the bandwidth
    measured for its working set (:func:`tvmprims.roofline.roofline_point`)."""
    from .roofline.analysis import roofline_point
    for row in rows:
        if row.get("executed_workload") is not None:
            point = roofline_point(row["executed_workload"], row["tvmprims_s"], peaks)
            row["percent_of_roof"] = point.percent_of_roof
    return rows


#: Cases whose ratio comes out below this are measured a second time at the end of the run
#: (:func:`run`).
RETIME_BELOW = 0.9


def run(cases, target=None, conv_algo="auto", rounds=5, round_seconds=0.05, seed=0,
        progress=None, prepare_calls=None, settle=SETTLE_SECONDS, schedule="auto",
        retime_below=RETIME_BELOW):
    """Measure ``cases`` (in order) with empty choice and kernel caches; returns the rows
    (``percent_of_roof`` is filled by :func:`apply_peaks`). ``prepare_calls(case, rng,
    target, conv_algo)`` makes each case's :class:`CaseCalls` (default :func:`prepare` with
    ``schedule``; tests inject broken ones). ``progress`` gets a line per case; ``settle``:
    seconds of untimed calls before each timed block
    (:func:`tvmprims.timing.interleaved_best`).

    Cases with a ratio below ``retime_below`` (None: none) are measured again after the
    others, in a new process when the calls are :func:`prepare`'s (:func:`second_pass`; its
    progress lines are printed), and each side keeps its best time over both passes
    (:func:`retimed`). The 2-core cloud machines these figures come from have spells of
    seconds in which TVM's two-thread kernels run about 1.5x slower and numpy's or torch's
    about 1.1x (TVM splits a parallel loop evenly between its threads, its worker pinned to
    one CPU, so the kernel waits for the slower CPU): a case measured within one got a
    ratio 0.6-0.7x of what the same case gets outside it. The second pass samples another moment, for both
    sides alike. And some kernels (the 7x7 stem, 3x3 stride-2 layers, Winograd on 13x13)
    run 1.5-2.7x slower for the whole life of some processes, one in eight here, with ASLR
    off or TVM's thread binding off alike, while other processes run the same kernels at
    their speed and torch is not slowed: in the same process a second pass met the same
    state, in a new one it samples another process.
    """
    import torch
    torch.set_num_threads(tvm_threads())  # torch gets TVM's thread count
    in_new_process = prepare_calls is None and (target is None or isinstance(target, str))
    if prepare_calls is None:
        prepare_calls = functools.partial(prepare, schedule=schedule)
    rng = np.random.default_rng(seed)

    def measure(case):
        return _measure(case, prepare_calls, rng, target, conv_algo, rounds, round_seconds,
                        settle)

    rows = []
    started = time.perf_counter()
    with fresh_caches():
        for i, case in enumerate(cases, 1):
            row = measure(case)
            rows.append(row)
            if progress:
                progress(f"[{i}/{len(cases)} {time.perf_counter() - started:.0f}s] "
                         f"{_progress_line(row)}")
        again = [i for i, row in enumerate(rows) if retime_below is not None
                 and row["status"] == "ok" and row["ratio"] < retime_below]
        if again and in_new_process:
            try:
                second = _in_new_process(second_pass, [cases[i] for i in again], target,
                                         conv_algo, rounds, round_seconds, seed, settle,
                                         schedule, progress is not None)
            except Exception as e:  # a process that cannot start or dies: this one measures
                if progress:
                    progress(f"second pass in a new process failed ({type(e).__name__}: {e}); "
                             "measuring here")
                second = [measure(cases[i]) for i in again]
            for i, row in zip(again, second):
                rows[i] = retimed(cases[i], rows[i], row)
        else:
            for n, i in enumerate(again, 1):
                rows[i] = retimed(cases[i], rows[i], measure(cases[i]))
                if progress:
                    progress(f"[again {n}/{len(again)} {time.perf_counter() - started:.0f}s] "
                             f"{_progress_line(rows[i])}")
    return rows


def second_pass(cases, target, conv_algo, rounds, round_seconds, seed, settle, schedule,
                report):
    """Measure ``cases`` again (:func:`prepare`, :func:`run_case`), as :func:`run`'s second
    pass does in a new process; returns each row's ``status`` and times, printing a progress
    line per case to stderr (where ``tvmprims bench`` reports progress) when ``report``."""
    import torch
    torch.set_num_threads(tvm_threads())
    rng = np.random.default_rng(seed)
    rows, started = [], time.perf_counter()
    calls_of = functools.partial(prepare, schedule=schedule)
    for n, case in enumerate(cases, 1):
        row = _measure(case, calls_of, rng, target, conv_algo, rounds, round_seconds, settle)
        if report:
            print(f"[again {n}/{len(cases)} {time.perf_counter() - started:.0f}s, new process] "
                  f"{_progress_line(row)}", file=sys.stderr, flush=True)
        rows.append({key: row[key] for key in ("status", "tvmprims_s", "ref_s")})
    return rows


def _in_new_process(function, *args):
    """``function(*args)`` run in a new Python process (``spawn``: a fresh TVM runtime and
    memory, not a fork of this one)."""
    import concurrent.futures
    import multiprocessing
    with concurrent.futures.ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def _measure(case, prepare_calls, rng, target, conv_algo, rounds, round_seconds, settle):
    """:func:`run_case` on the calls ``prepare_calls`` makes (a preparation that raises is
    the case's failure)."""
    try:
        calls = prepare_calls(case, rng, target, conv_algo)
    except Exception as e:
        calls = CaseCalls(_raiser(e), None, "-", None, None)
    return run_case(case, calls, rounds, round_seconds, settle)


def _raiser(error):
    def call():
        raise error
    return call


def _progress_line(row):
    text = f"{row['category']} {row['case']}: "
    if row["tvmprims_s"] is None:
        return text + row["status"]
    return (text + f"first call {row['first_call_s']:.2f} s ({row['algorithm']}), "
            f"{row['tvmprims_s'] * 1e3:.3f} ms vs {row['reference']} "
            f"{row['ref_s'] * 1e3:.3f} ms = {row['ratio']:.2f}x, error {row['rel_error']:.1e}"
            + ("" if row["status"] == "ok" else f"  {row['status']}"))


def summarize(rows):
    """Per category (report order), then ``"all"``: ``{"cases", "ok", "wrong", "failed",
    "geomean", "worst", "worst_case", "best"}``. Ratios of ``"ok"`` rows only: a wrong
    result's speed is no credit; wrong and failed rows are counted instead."""
    from .layer_cases import CATEGORIES
    present = dict.fromkeys(sorted({r["category"] for r in rows},
                                   key=lambda c: (CATEGORIES + (c,)).index(c)))
    summary = {}
    for category in [*present, "all"]:
        mine = [r for r in rows if category in ("all", r["category"])]
        ok = [r for r in mine if r["status"] == "ok"]
        worst = min(ok, key=lambda r: r["ratio"]) if ok else None
        summary[category] = {
            "cases": len(mine), "ok": len(ok),
            "wrong": sum(r["status"] == "WRONG" for r in mine),
            "failed": sum(r["status"].startswith("failed") for r in mine),
            "geomean": geomean(r["ratio"] for r in ok),
            "worst": worst["ratio"] if worst else math.nan,
            "worst_case": f"{worst['category']} {worst['case']}" if worst else "-",
            "best": max((r["ratio"] for r in ok), default=math.nan)}
    return summary
