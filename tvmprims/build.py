"""Compile workloads into :class:`Kernel` objects, with an in-process cache.

The hand schedule of operator ``op`` for a target of kind ``cpu``/``cuda`` is the function
``schedule(sch, workload, target)`` in ``tvmprims.schedules.<kind>.<op>``; tuned schedules come
from MetaSchedule logs (:mod:`tvmprims.tuning`).
"""

import importlib
import threading
import warnings

from ._tvm import Schedule, compile_module, create_prim_func, dlight, tvm
from .kernel import Kernel
from .target import resolve_target
from .workload import Workload

__all__ = ["build_workload", "schedule_workload", "hand_schedule", "schedule_module", "SCHEDULES",
           "TunedRecordMissing", "clear_cache", "cache_info"]

#: Schedule names accepted by ``schedule=``:
#: ``auto`` (default) a tuned record when one exists, else the hand schedule;
#: ``tuned`` a tuned record, falling back to the hand schedule with a warning;
#: ``hand`` the hand schedule; ``none`` no schedule at all (on CUDA, the minimal thread
#: binding a GPU needs to run anything).
SCHEDULES = ("auto", "tuned", "hand", "none")


class TunedRecordMissing(UserWarning):
    """``schedule="tuned"`` was asked for a workload that no tuning log covers."""


_lock = threading.Lock()
_kernels = {}
_stats = {"hits": 0, "misses": 0}


def schedule_module(target, name):
    """The module of hand schedules ``tvmprims.schedules.<cpu|cuda>.<name>`` for ``target``."""
    kind = "cuda" if target.kind.name == "cuda" else "cpu"
    return importlib.import_module(f"tvmprims.schedules.{kind}.{name}")


def hand_schedule(workload, target):
    """A TensorIR ``Schedule`` of ``workload`` with the hand schedule for ``target`` applied."""
    target = resolve_target(target)
    sch = Schedule(create_prim_func(workload.compute()))
    schedule_module(target, workload.op).schedule(sch, workload, target)
    return sch


def schedule_workload(workload, target, schedule="hand"):
    """``(IRModule, used)``: the scheduled TensorIR of ``workload`` for ``target``, and the
    schedule actually used (``"tuned"``, ``"hand"`` or ``"none"``)."""
    target = resolve_target(target)
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}: expected one of {SCHEDULES}")
    workload.check_index_range()
    if schedule == "none":
        mod = tvm.IRModule({"main": create_prim_func(workload.compute())})
        if target.kind.name == "cuda":
            with target:
                mod = dlight.ApplyDefaultSchedule(dlight.gpu.Fallback())(mod)
        return mod, "none"
    if schedule in ("tuned", "auto"):
        from .tuning import tuned_schedule
        sch = tuned_schedule(workload, target)
        if sch is not None:
            return sch.mod, "tuned"
        if schedule == "tuned":
            warnings.warn(f"no tuning record for {workload.describe()} ({workload.dtype}) on "
                          f"{target.kind.name}: using the hand schedule", TunedRecordMissing,
                          stacklevel=4)
    return hand_schedule(workload, target).mod, "hand"


def build_workload(workload, target="llvm", schedule="auto"):
    """Compile ``workload`` (cached: the same workload, target and schedule compile once)."""
    if not isinstance(workload, Workload):
        raise TypeError(f"expected a Workload, got {type(workload).__name__}")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}: expected one of {SCHEDULES}")
    resolved = resolve_target(target)  # validates; cached for names
    # String targets key by name: str(Target) serialises to JSON, too slow for every call.
    key = (workload, _canonical_name(target) if isinstance(target, str) or target is None
           else str(resolved), schedule)
    with _lock:
        kernel = _kernels.get(key)
        _stats["hits" if kernel is not None else "misses"] += 1
    if kernel is not None:
        return kernel
    mod, used = schedule_workload(workload, resolved, schedule)
    kernel = Kernel(workload, resolved, used, compile_module(mod, resolved).mod, mod)
    with _lock:
        return _kernels.setdefault(key, kernel)


def _canonical_name(target):
    name = "llvm" if target is None else target.strip().lower()
    return "llvm" if name == "cpu" else name


def clear_cache():
    """Forget every compiled kernel."""
    with _lock:
        _kernels.clear()
        _stats.update(hits=0, misses=0)


def cache_info():
    """``{"kernels": n, "hits": h, "misses": m}`` for the in-process kernel cache."""
    with _lock:
        return {"kernels": len(_kernels), **_stats}
