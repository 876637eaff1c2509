"""tvmprims: deep-learning primitives compiled with Apache TVM.

Operators are TVM tensor expressions (:mod:`tvmprims.ops`), scheduled by hand for CPU and
CUDA (:mod:`tvmprims.schedules`), compiled once per shape and cached. The functions below take
and return numpy arrays.
"""

from .api import (CONV2D_ALGORITHMS, OPERATORS, build, conv1d, conv2d, convolve,
                  depthwise_conv2d, matmul)
from .build import SCHEDULES, cache_info, clear_cache
from .kernel import Kernel, Timing, load_kernel
from .target import resolve_target, target_key
from .workload import Workload

__version__ = "0.1.0"

__all__ = [
    "matmul", "convolve", "conv1d", "conv2d", "depthwise_conv2d",
    "build", "Kernel", "Timing", "load_kernel", "Workload",
    "resolve_target", "target_key", "cache_info", "clear_cache",
    "OPERATORS", "CONV2D_ALGORITHMS", "SCHEDULES",
]
