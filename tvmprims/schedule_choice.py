"""Tuned or hand schedule, when the tuned record was measured on another (compatible) CPU.

A record tuned on one AVX2 CPU usually helps another, but can be slower there than the hand
schedule. So the first ``schedule="auto"`` build of such a workload compiles both, times
them alternately on this machine, and keeps the faster; the winner is remembered per
target, workload, log directory and tvmprims source (a changed hand schedule is timed again)
in a per-user JSON file (``$TVMPRIMS_SCHEDULE_CACHE``,
default ``~/.cache/tvmprims/schedule_choices.json``), so later processes do not time again.
Records tuned for this very target are trusted without timing.
"""

import json

from ._tvm import compile_module
from .json_store import JsonStore, user_cache_path
from .kernel import Kernel
from .kernel_cache import source_fingerprint

__all__ = ["ENV", "cache_path", "prefer_tuned", "forget"]

ENV = "TVMPRIMS_SCHEDULE_CACHE"
_stores = {}


def cache_path():
    return user_cache_path(ENV, "schedule_choices.json")


def _store():
    path = cache_path()
    store = _stores.get(path)
    if store is None:
        store = _stores[path] = JsonStore(path, "schedule choices", validate=_valid)
    return store


def _valid(key, value):
    if value.get("schedule") not in ("tuned", "hand"):
        raise ValueError(f"schedule {value.get('schedule')!r} is neither 'tuned' nor 'hand'")


def forget():
    """Forget the choices held in memory (the file stays)."""
    _stores.clear()


def prefer_tuned(workload, target, target_text, tuned_mod, hand_mod, record_dir):
    """Whether the tuned module (from the compatible log ``record_dir``) runs faster here
    than the hand one: remembered, or measured now (best of alternating timings)."""
    key = "|".join((target_text, json.dumps(workload.to_json(), sort_keys=True),
                    str(record_dir), source_fingerprint()[:16]))
    store = _store()
    known = store.get(key)
    if known is not None:
        return known["schedule"] == "tuned"
    kernels = {name: Kernel(workload, target, name, compile_module(mod, target).mod, mod)
               for name, mod in (("tuned", tuned_mod), ("hand", hand_mod))}
    inputs = kernels["hand"].random_inputs()
    best = {name: float("inf") for name in kernels}
    for _ in range(2):  # alternate, so a burst of load does not favour one of them
        for name, kernel in kernels.items():
            best[name] = min(best[name], kernel.time(*inputs, repeat=3, min_repeat_ms=30).seconds)
    choice = "tuned" if best["tuned"] < best["hand"] else "hand"
    store.put(key, {"schedule": choice, "tuned_seconds": best["tuned"],
                    "hand_seconds": best["hand"], "log": str(record_dir)})
    return choice == "tuned"
