"""Target resolution: the names users pass (``"llvm"``, ``"cpu"``, ``"cuda"``) to TVM targets.

``"llvm"`` and ``"cpu"`` mean *this host with its real CPU features*: TVM 0.27 silently falls
back to a generic x86 CPU (no AVX2) when ``mcpu`` is given without ``mtriple``, so both are
always set here.
"""

import os
import platform

from ._tvm import Target, host_cpu_name, tvm

__all__ = ["resolve_target", "schedule_kind", "SCHEDULE_KINDS", "target_key", "device_for",
           "host_cpu_model", "DEFAULT_CUDA_ARCH"]

#: CUDA architecture used when no GPU is present to ask (H100/H200).
DEFAULT_CUDA_ARCH = "sm_90"

_CPU_NAMES = ("llvm", "cpu")

#: The families of hand schedules (``tvmprims.schedules.<kind>``), by the TVM target kind
#: each serves.
SCHEDULE_KINDS = {"llvm": "cpu", "cuda": "cuda"}


def schedule_kind(target):
    """Which hand schedules serve ``target``: ``"cpu"`` (an ``llvm`` target) or ``"cuda"``.

    The one dispatch on the target's kind: builds pick ``tvmprims.schedules.<kind>``, kernels
    their device and source, the roofline its micro-kernels from it.

    Raises
    ------
    ValueError
        For a target kind tvmprims has no schedules for (``c``, ``rocm``, ``vulkan``, ...).
    """
    kind = target.kind.name
    try:
        return SCHEDULE_KINDS[kind]
    except KeyError:
        raise ValueError(f"unsupported target kind {kind!r} (keys {list(target.keys)}): "
                         "tvmprims schedules 'llvm' (CPU) and 'cuda'") from None


def host_cpu_model():
    """This host's CPU model as the OS names it (``/proc/cpuinfo``), e.g. ``AMD EPYC 7763``."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _host_triple():
    machine = platform.machine()
    return {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}.get(
        machine, f"{machine}-linux-gnu")


def _host_cpu_target():
    cores = os.cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    return Target({"kind": "llvm", "mcpu": host_cpu_name(), "mtriple": _host_triple(),
                   "num-cores": cores})


def _cuda_target():
    arch = DEFAULT_CUDA_ARCH
    dev = tvm.cuda(0)
    if tvm.runtime.enabled("cuda") and dev.exist:
        arch = "sm_" + dev.compute_version.replace(".", "")
    return Target({"kind": "cuda", "arch": arch})


_cache = {}


def resolve_target(target=None):
    """Return a ``tvm.target.Target`` for ``target``.

    Parameters
    ----------
    target : None, str or tvm.target.Target
        ``None``, ``"llvm"`` or ``"cpu"``: this host's CPU; ``"cuda"``: the local GPU's
        architecture, or ``sm_90`` when there is none; a ``Target`` is returned unchanged.

    Raises
    ------
    ValueError
        For any other name, or a Target kind tvmprims has no schedules for.
    """
    if target is None:
        target = "llvm"
    if isinstance(target, Target):
        schedule_kind(target)  # ValueError for a kind tvmprims has no schedules for
        return target
    if not isinstance(target, str):
        raise TypeError(f"target must be a string or tvm.target.Target, not {type(target).__name__}")
    name = target.strip().lower()
    if name not in _cache:
        if name in _CPU_NAMES:
            _cache[name] = _host_cpu_target()
        elif name == "cuda":
            _cache[name] = _cuda_target()
        else:
            raise ValueError(f"unknown target {target!r}: expected 'llvm', 'cpu', 'cuda' "
                             "or a tvm.target.Target")
    return _cache[name]


def target_key(target):
    """A short stable name for a target, e.g. ``llvm-znver3`` or ``cuda-sm_90``.

    Used in cache keys and tuning-log names so that results for one CPU model or GPU
    architecture are never applied to another.
    """
    target = resolve_target(target)
    if schedule_kind(target) == "cuda":
        return f"cuda-{target.attrs.get('arch', DEFAULT_CUDA_ARCH)}"
    return f"llvm-{target.attrs.get('mcpu', 'generic')}-{target.attrs.get('num-cores', 1)}c"


def device_for(target):
    """The TVM device a target's kernels run on."""
    target = resolve_target(target)
    if schedule_kind(target) == "cuda":
        return tvm.cuda(0)
    return tvm.cpu(0)
