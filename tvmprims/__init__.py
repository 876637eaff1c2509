"""tvmprims: deep-learning primitives compiled with Apache TVM.

Operators are TVM tensor expressions (:mod:`tvmprims.ops`), scheduled by hand for CPU and
CUDA (:mod:`tvmprims.schedules`), compiled once per shape and cached. The functions below take
and return numpy arrays.
"""

from . import lowrank, roofline
from ._version import __version__
from .algorithms import find_algorithms
from .api import (CONV2D_ALGORITHMS, MATMUL_ALGORITHMS, OPERATORS, adaptive_avg_pool2d,
                  adaptive_max_pool2d, add, avg_pool2d, build, build_workload_from_shapes,
                  concat, conv1d, conv2d, convolve, depthwise_conv2d, matmul, max_pool2d,
                  scale_channels)
from .build import SCHEDULES, TunedRecordMissing, cache_info, clear_cache
from .deploy import export, load
from .kernel import Kernel, LibraryMismatchError, Timing, load_kernel
from .lowrank import lowrank_matmul
from .target import resolve_target, target_key
from .workload import Workload

__all__ = [
    "matmul", "convolve", "conv1d", "conv2d", "depthwise_conv2d", "max_pool2d", "avg_pool2d",
    "adaptive_avg_pool2d", "adaptive_max_pool2d", "add", "concat", "scale_channels",
    "lowrank_matmul", "lowrank",
    "roofline",
    "find_algorithms", "MATMUL_ALGORITHMS",
    "build", "Kernel", "Timing", "load_kernel", "LibraryMismatchError", "Workload",
    "resolve_target", "target_key", "cache_info", "clear_cache",
    "OPERATORS", "CONV2D_ALGORITHMS", "SCHEDULES",
    "build_workload_from_shapes", "tune", "export", "load", "TunedRecordMissing", "nn",
]


def __getattr__(name):
    """``tvmprims.nn`` (layers and whole-model import) on first use, as if imported."""
    if name == "nn":
        import importlib
        return importlib.import_module(".nn", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def tune(op, *shapes, dtype="float32", target="llvm", trials=64, log_root=None, rpc_tracker=None,
         rpc_key=None, timeout=120, report=print, fresh=False, space=None, **params):
    """Tune operator ``op`` on ``shapes`` with MetaSchedule (see :func:`tvmprims.tuning.tune`).

    Example: ``tvmprims.tune("matmul", (1024, 1024), (1024, 1024), trials=64)``.
    """
    from .tuning import tune as _tune
    workload = build_workload_from_shapes(op, shapes, dtype, params)
    return _tune(workload, target, trials, log_root, rpc_tracker, rpc_key, timeout, report,
                 fresh=fresh, space=space)
