"""Compile workloads into :class:`Kernel` objects, with an in-process cache.

The hand schedule of operator ``op`` for a target whose :func:`~tvmprims.target.schedule_kind`
is ``cpu``/``cuda`` is the function ``schedule(sch, workload, target)`` in
``tvmprims.schedules.<kind>.<op>``; tuned schedules come from MetaSchedule logs
(:mod:`tvmprims.tuning_records`; :mod:`tvmprims.tuning` writes them). A record measured on
another, compatible CPU is used by ``schedule="auto"`` only where it beats the hand schedule
on this one (:mod:`tvmprims.schedule_choice`).
"""

import importlib
import warnings

from . import forking, kernel_cache, schedule_choice
from ._tvm import Schedule, compile_module, create_prim_func, dlight, element_aligned_arguments, tvm
from .kernel import Kernel
from .schedules.hardware import cpu_params
from .target import resolve_target, schedule_kind, target_key
from .tuning_records import is_hand_record, logs_fingerprint, tuned_record
from .workload import Workload

__all__ = ["build_workload", "kernel_for_call", "cached_call", "forget_calls",
           "schedule_workload", "hand_schedule", "schedule_module", "SCHEDULES",
           "TunedRecordMissing", "clear_cache", "cache_info", "target_cache_key"]

#: Schedule names accepted by ``schedule=``:
#: ``auto`` (default) a tuned record when one exists, else the hand schedule;
#: ``tuned`` a tuned record, falling back to the hand schedule with a warning;
#: ``hand`` the hand schedule; ``none`` no schedule at all (on CUDA, the minimal thread
#: binding a GPU needs to run anything).
SCHEDULES = ("auto", "tuned", "hand", "none")


class TunedRecordMissing(UserWarning):
    """``schedule="tuned"`` was asked for a workload that no tuning log covers."""


_lock = forking.lock()
_kernels = {}
_compiling = {}        # key -> Lock held while that kernel compiles
_target_strings = {}   # Target object -> str(Target)
_calls = {}            # numpy-API call signature -> Kernel (see kernel_for_call)
#: ``(op, shapes, dtypes, parameters...)`` -> :meth:`~tvmprims.Kernel.new_output_runner` of
#: the kernel of plain ``tvmprims.matmul(a, b)`` and ``tvmprims.conv2d(x, w, ...)`` calls
#: (see there); emptied with ``_calls``.
plain_calls = {}
call_stats = {"hits": 0, "misses": 0}  # of cache_info(); shared with the plain call paths


def schedule_module(target, name):
    """The module of hand schedules ``tvmprims.schedules.<cpu|cuda>.<name>`` for ``target``
    (``ValueError`` for a target kind tvmprims has no schedules for)."""
    return importlib.import_module(f"tvmprims.schedules.{schedule_kind(target)}.{name}")


def hand_schedule(workload, target):
    """A TensorIR ``Schedule`` of ``workload`` with the hand schedule for ``target`` applied."""
    target = resolve_target(target)
    sch = Schedule(create_prim_func(workload.compute()))
    schedule_module(target, workload.op).schedule(sch, workload, target)
    return sch


def schedule_workload(workload, target, schedule="hand"):
    """``(IRModule, used)``: the scheduled TensorIR of ``workload`` for ``target``, and the
    schedule actually used (``"tuned"``, ``"hand"`` or ``"none"``). ``"tuned"`` means a tuning
    record decided; a record marked as the hand schedule's (:data:`tuning_records.HAND_MARK`)
    decides for the current hand schedule.

    On CPUs the arguments are declared aligned to their element size
    (:func:`~tvmprims._tvm.element_aligned_arguments`), so a kernel takes any C-contiguous
    numpy array without a copy."""
    target = resolve_target(target)
    mod, used = _scheduled(workload, target, schedule)
    if schedule_kind(target) == "cpu":
        mod = element_aligned_arguments(mod)
    return mod, used


def _scheduled(workload, target, schedule):
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}: expected one of {SCHEDULES}")
    workload.check_index_range()
    if schedule == "none":
        mod = tvm.IRModule({"main": create_prim_func(workload.compute())})
        if schedule_kind(target) == "cuda":
            with target:
                mod = dlight.ApplyDefaultSchedule(dlight.gpu.Fallback())(mod)
        return mod, "none"
    if schedule in ("tuned", "auto"):
        found = tuned_record(workload, target)
        if found is not None and is_hand_record(found[0]):
            # The log's verdict is the hand schedule: today's, not the one its trace recorded.
            return hand_schedule(workload, target).mod, "tuned"
        if found is not None:
            sch, directory = found
            if schedule == "tuned" or directory.name == target_key(target):
                return sch.mod, "tuned"
            # Measured on a compatible CPU: use it only where it beats the hand schedule here.
            hand = hand_schedule(workload, target).mod
            if schedule_choice.prefer_tuned(workload, target, target_cache_key(target),
                                            element_aligned_arguments(sch.mod),
                                            element_aligned_arguments(hand), directory):
                return sch.mod, "tuned"
            return hand, "hand"
        if schedule == "tuned":
            _warn_untuned(workload, target, stacklevel=7)
    return hand_schedule(workload, target).mod, "hand"


def build_workload(workload, target="llvm", schedule="auto"):
    """Compile ``workload`` (cached: the same workload, target and schedule compile once).

    Thread-safe: threads asking for one kernel at once compile it once (the others wait for
    it); different kernels compile concurrently. A target name and the ``Target`` it resolves
    to (``"llvm"`` and ``resolve_target("llvm")``) share the cached kernel.
    """
    if not isinstance(workload, Workload):
        raise TypeError(f"expected a Workload, got {type(workload).__name__}")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}: expected one of {SCHEDULES}")
    resolved = resolve_target(target)  # validates; cached for names
    key = (workload, target_cache_key(resolved), schedule)
    with _lock:
        kernel = _kernels.get(key)
        if kernel is not None:
            call_stats["hits"] += 1
            return kernel
        key_lock = _compiling.setdefault(key, forking.lock())
    with key_lock:  # one compile per key; other keys are not blocked
        with _lock:
            kernel = _kernels.get(key)
            if kernel is not None:  # compiled by the thread we waited for
                call_stats["hits"] += 1
                return kernel
            call_stats["misses"] += 1
        try:
            kernel = _cached_or_compiled(workload, resolved, schedule)
            with _lock:
                _kernels[key] = kernel
        finally:
            with _lock:
                if _compiling.get(key) is key_lock:
                    del _compiling[key]
    return kernel


def _cached_or_compiled(workload, target, schedule):
    """The :class:`Kernel` of ``workload`` scheduled as ``schedule`` asks: from the on-disk
    kernel cache (:mod:`tvmprims.kernel_cache`, CPU targets) when it holds a valid entry, else
    compiled (and written there in the background).

    The cache is asked twice: first by the request (no schedule built, no tuning log
    opened), then by the scheduled module's structural hash."""
    directory = kernel_cache.cache_dir() if schedule_kind(target) == "cpu" else None
    if directory is None:
        mod, used = schedule_workload(workload, target, schedule)
        return Kernel(workload, target, used, compile_module(mod, target).mod, mod)
    text = target_cache_key(target)
    logs = logs_fingerprint(target) if schedule in ("auto", "tuned") else ()
    request = kernel_cache.request_key(workload, text, schedule, logs, _hardware(target))
    hit = kernel_cache.load_request(directory, request, workload, text)
    if hit is not None:
        module, path, used = hit
        if schedule == "tuned" and used == "hand":
            _warn_untuned(workload, target, stacklevel=5)
        return Kernel(workload, target, used, module,
                      lambda: schedule_workload(workload, target, used)[0],
                      library_path=str(path))
    mod, used = schedule_workload(workload, target, schedule)
    key = kernel_cache.entry_key(workload, text, mod)
    hit = kernel_cache.load(directory, key, workload, text)
    if hit is not None:
        module, path = hit
        kernel = Kernel(workload, target, used, module, mod, library_path=str(path))
    else:
        kernel = Kernel(workload, target, used, compile_module(mod, target).mod, mod)
        kernel_cache.store(directory, key, kernel)
    kernel_cache.store_request(directory, request, key, used)
    return kernel


def _hardware(target):
    """What the hand schedules read besides the target string: the CPU's schedule parameters,
    which follow the host's caches and which
    :func:`~tvmprims.schedules.hardware.cpu_params_override` may replace; two hosts with one
    target string but other caches do not share a request."""
    return str(cpu_params(target))


def _warn_untuned(workload, target, stacklevel):
    warnings.warn(f"no tuning record for {workload.describe()} ({workload.dtype}) on "
                  f"{target.kind.name}: using the hand schedule", TunedRecordMissing,
                  stacklevel=stacklevel)


def cached_call(signature):
    """What :func:`kernel_for_call` remembered for ``signature``, or None: the hit path
    alone, for calls that would rather not make their ``make`` function before knowing
    that they need it."""
    try:
        kernel = _calls.get(signature)
    except TypeError:
        return None
    if kernel is not None:
        call_stats["hits"] += 1  # a count for cache_info(); a rare lost increment is harmless
    return kernel


def kernel_for_call(signature, make):
    """The kernel for a numpy-API call with this ``signature``, else ``make()`` remembered
    (a :class:`~tvmprims.Kernel`, or a tuple of one and what the call needs to know of it).

    ``signature`` is a hashable tuple of everything that selects the kernel (operator,
    shapes, dtype, parameters, ``target`` and ``schedule`` as passed); ``make`` builds the
    workload (its checks raise on bad input) and calls :func:`build_workload`. A repeated
    call then skips building and checking the workload, resolving the target and hashing
    the workload: tens of microseconds that a small kernel would feel. Emptied with the
    kernel cache (:func:`clear_cache`). An unhashable signature (an odd ``target`` object)
    just takes the slow path.
    """
    kernel = cached_call(signature)
    if kernel is not None:
        return kernel
    kernel = make()
    try:
        with _lock:
            if len(_calls) >= 4096:  # signatures made afresh for every call (new Targets)
                _calls.clear()
            _calls[signature] = kernel
    except TypeError:  # an unhashable signature: not remembered
        pass
    return kernel


def forget_calls():
    """Forget the call signatures of :func:`kernel_for_call` (not the kernels): a call whose
    kernel is chosen, not given (``conv2d(algo="auto")``), chooses again. The algorithm
    search calls it when it records or forgets a choice."""
    with _lock:
        _calls.clear()
        plain_calls.clear()


def target_cache_key(target):
    """The string that identifies resolved ``target`` in cache keys: ``str(target)``, kept per
    ``Target`` object (``str(Target)`` serialises to JSON, too slow for every call; names
    resolve to one cached ``Target`` each, so they reuse its string)."""
    text = _target_strings.get(target)
    if text is None:
        text = str(target)
        with _lock:
            if len(_target_strings) >= 256:  # Targets made afresh for every call
                _target_strings.clear()
            _target_strings[target] = text
    return text


def clear_cache():
    """Forget every compiled kernel."""
    with _lock:
        _kernels.clear()
        _calls.clear()
        plain_calls.clear()
        call_stats.update(hits=0, misses=0)


def cache_info():
    """``{"kernels": n, "hits": h, "misses": m}`` for the in-process kernel cache."""
    with _lock:
        return {"kernels": len(_kernels), **call_stats}
