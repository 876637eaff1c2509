"""Compile workloads into :class:`Kernel` objects, with an in-process cache.

The hand schedule of operator ``op`` for a target of kind ``cpu``/``cuda`` is the function
``schedule(sch, workload, target)`` in ``tvmprims.schedules.<kind>.<op>``.
"""

import importlib
import threading

from ._tvm import Schedule, compile_module, create_prim_func, dlight, tvm
from .kernel import Kernel
from .target import resolve_target
from .workload import Workload

__all__ = ["build_workload", "schedule_workload", "SCHEDULES", "clear_cache", "cache_info"]

#: Schedule names accepted by ``schedule=``: the hand schedule, or no schedule at all
#: (on CUDA, "none" is the minimal thread binding a GPU needs to run anything).
SCHEDULES = ("hand", "none")

_lock = threading.Lock()
_kernels = {}
_stats = {"hits": 0, "misses": 0}


def _schedule_module(target, op):
    kind = "cuda" if target.kind.name == "cuda" else "cpu"
    return importlib.import_module(f"tvmprims.schedules.{kind}.{op}")


def schedule_workload(workload, target, schedule="hand"):
    """The scheduled TensorIR ``IRModule`` of ``workload`` for ``target``."""
    target = resolve_target(target)
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}: expected one of {SCHEDULES}")
    func = create_prim_func(workload.compute())
    if schedule == "none":
        mod = tvm.IRModule({"main": func})
        if target.kind.name == "cuda":
            with target:
                mod = dlight.ApplyDefaultSchedule(dlight.gpu.Fallback())(mod)
        return mod
    sch = Schedule(func)
    _schedule_module(target, workload.op).schedule(sch, workload, target)
    return sch.mod


def build_workload(workload, target="llvm", schedule="hand"):
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
    mod = schedule_workload(workload, resolved, schedule)
    kernel = Kernel(workload, resolved, schedule, compile_module(mod, resolved).mod, mod)
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
