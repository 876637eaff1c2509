"""adaptive_avg_pool2d and adaptive_max_pool2d against float64 torch: global pooling,
windows of one length (a plain pool) and of varying lengths, outputs larger than inputs; the
global-average schedule (also avg_pool2d's when the kernel is the image) on awkward shapes,
and its generated code per CPU family."""

import re

import numpy as np
import pytest

import tvmprims
from tvmprims.schedules.hardware import cpu_params
from tvmprims.testing import (adaptive_avg_pool2d_ref, adaptive_max_pool2d_ref, assert_close,
                              at_offset, avg_pool2d_ref)

from cpu_targets import compile_for, target_params

CASES = [
    ((1, 2048, 7, 7), 1), ((2, 1280, 7, 7), (1, 1)), ((1, 3, 1, 1), 1), ((2, 5, 13, 13), (6, 6)),
    ((1, 3, 5, 7), (3, 2)), ((1, 512, 7, 7), (7, 7)), ((1, 4, 14, 14), 7), ((1, 3, 5, 4), (7, 9)),
    ((1, 2, 11, 8), (None, 3)), ((3, 7, 224, 224), 1),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,size", CASES, ids=str)
def test_against_torch(rng, dtype, shape, size):
    x = rng.standard_normal(shape).astype(dtype)
    window = shape[2] * shape[3]
    assert_close(tvmprims.adaptive_avg_pool2d(x, size), adaptive_avg_pool2d_ref(x, size), dtype,
                 window)
    assert_close(tvmprims.adaptive_max_pool2d(x, size), adaptive_max_pool2d_ref(x, size), dtype,
                 1)


def test_max_propagates_nan(rng):
    x = rng.standard_normal((1, 2, 5, 7)).astype("float32")
    x[0, 1, 2, 3] = np.nan
    np.testing.assert_array_equal(tvmprims.adaptive_max_pool2d(x, (3, 2)),
                                  adaptive_max_pool2d_ref(x, (3, 2)).astype("float32"))


# --- Global average pooling: each plane summed as one contiguous run of H*W elements ----------

#: (N, C, H, W): H*W a multiple of the vector (8 float32, 4 float64) or not, shorter than one,
#: a single element; C a multiple of the 8-channel tile, prime, or 1; small (one thread) and
#: large (parallel) inputs.
GLOBAL_SHAPES = [(1, 1280, 7, 7), (8, 512, 7, 7), (1, 512, 13, 13), (2, 13, 5, 5),
                 (1, 17, 2, 4), (3, 7, 3, 3), (1, 1, 1, 1), (2, 9, 1, 1), (1, 3, 1, 6),
                 (1, 2, 56, 57)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", GLOBAL_SHAPES, ids=str)
def test_global_average(rng, dtype, shape):
    x = rng.standard_normal(shape).astype(dtype)
    window = shape[2] * shape[3]
    assert_close(tvmprims.adaptive_avg_pool2d(x, 1), adaptive_avg_pool2d_ref(x, 1), dtype,
                 window)
    # avg_pool2d whose kernel is the image is the same reduction, with torch's divisors
    assert_close(tvmprims.avg_pool2d(x, shape[2:]), avg_pool2d_ref(x, shape[2:]), dtype, window)


@pytest.mark.parametrize("offset", [4, 8, 20])
def test_global_average_misaligned(rng, offset):
    """Planes start anywhere (49 floats apart), and so may the array: unaligned vector
    loads, no copy needed."""
    x = at_offset(rng.standard_normal((2, 24, 7, 7)).astype("float32"), offset)
    assert_close(tvmprims.adaptive_avg_pool2d(x, (1, 1)), adaptive_avg_pool2d_ref(x, 1),
                 "float32", 49)
    assert_close(tvmprims.avg_pool2d(x, 7, ceil_mode=True, divisor_override=3),
                 avg_pool2d_ref(x, 7, ceil_mode=True, divisor_override=3), "float32", 49)


def test_global_average_propagates_nan_and_inf(rng):
    x = rng.standard_normal((1, 11, 5, 5)).astype("float32")
    x[0, 2, 4, 4], x[0, 5, 0, 0], x[0, 7, 1, 2], x[0, 7, 3, 3] = np.nan, np.inf, np.inf, -np.inf
    expected = adaptive_avg_pool2d_ref(x, 1)
    np.testing.assert_array_equal(np.isnan(tvmprims.adaptive_avg_pool2d(x, 1)),
                                  np.isnan(expected))
    np.testing.assert_array_equal(tvmprims.adaptive_avg_pool2d(x, 1)[0, 5], [[np.inf]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("target,vector_bytes", target_params())
def test_global_average_code(target, vector_bytes, dtype):
    """Vector loads of at most 32 bytes (wider ones ran slower on the short planes), and a
    parallel launch only for an input of ``plane_sum_parallel_elements`` or more."""
    lanes = min(vector_bytes, cpu_params(target).plane_sum_vector_bytes) \
        // np.dtype(dtype).itemsize
    small = compile_for(target, "adaptive_avg_pool2d", (1, 512, 7, 7), dtype=dtype,
                        output_size=1).llvm_ir()
    large = compile_for(target, "avg_pool2d", (8, 512, 7, 7), dtype=dtype,
                        kernel_size=7).llvm_ir()
    ctype = "double" if dtype == "float64" else "float"
    for ir in (small, large):
        assert re.search(rf"load <{lanes} x {ctype}>", ir), f"no <{lanes} x {ctype}> loads"
        assert not re.search(rf"load <{2 * lanes} x {ctype}>", ir)
    assert "TVMBackendParallelLaunch" not in small
    assert "TVMBackendParallelLaunch" in large
