"""scale_channels (a squeeze-and-excitation block's final multiply) against float64 numpy and
torch: awkward shapes, both forms of s, misaligned arrays, non-finite values, the generated
code per CPU family."""

import re

import numpy as np
import pytest
import torch

import tvmprims
from tvmprims.schedules.common import PARALLEL_MIN_ELEMENTS
from tvmprims.testing import assert_close, at_offset, scale_channels_ref

from cpu_targets import compile_for, target_params

#: (N, C, H, W): SE blocks of MobileNetV3 and EfficientNet; 1x1 planes (one contiguous
#: stream); planes shorter than a vector, primes, a plane not a multiple of the vector.
SHAPES = [(1, 960, 7, 7), (1, 120, 28, 28), (2, 672, 14, 14), (1, 1, 1, 1), (3, 7, 1, 1),
          (1, 13, 17, 19), (2, 5, 2, 3), (1, 3, 1, 7), (4, 2, 11, 1)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_against_numpy(rng, dtype, shape):
    x = rng.standard_normal(shape).astype(dtype)
    s = rng.standard_normal(shape[:2] + (1, 1)).astype(dtype)
    out = tvmprims.scale_channels(x, s)
    assert out.shape == shape and out.dtype == np.dtype(dtype)
    assert_close(out, scale_channels_ref(x, s), dtype, 1)
    assert_close(tvmprims.scale_channels(x, s.reshape(shape[:2])), scale_channels_ref(x, s),
                 dtype, 1)


def test_squeeze_excitation_as_torch(rng):
    """The multiply of torchvision's SqueezeExcitation: ``x * sigmoid(...)``."""
    x = torch.from_numpy(rng.standard_normal((2, 40, 28, 28)).astype("float32"))
    s = torch.sigmoid(torch.from_numpy(rng.standard_normal((2, 40, 1, 1)).astype("float32")))
    expected = (x.double() * s.double()).numpy()
    assert_close(tvmprims.scale_channels(x, s), expected, "float32", 1)
    np.testing.assert_array_equal(tvmprims.scale_channels(x.numpy(), s.numpy()), (x * s).numpy())


@pytest.mark.parametrize("offset", [4, 8, 36])
def test_misaligned(rng, offset):
    x = rng.standard_normal((2, 6, 7, 7)).astype("float32")
    s = rng.standard_normal((2, 6)).astype("float32")
    out = tvmprims.scale_channels(at_offset(x, offset), at_offset(s, offset % 16))
    np.testing.assert_array_equal(out, x * s[:, :, None, None])


def test_one_kernel_for_both_forms_of_s(rng):
    x = rng.standard_normal((1, 9, 5, 5)).astype("float32")
    s = rng.standard_normal((1, 9)).astype("float32")
    tvmprims.scale_channels(x, s)
    before = tvmprims.cache_info()["misses"]
    tvmprims.scale_channels(x, s.reshape(1, 9, 1, 1))
    assert tvmprims.cache_info()["misses"] == before


def test_non_finite_values_propagate():
    x = np.array([1.0, np.inf, np.nan, 0.0, -2.0, 3.0], np.float32).reshape(1, 2, 3, 1)
    s = np.array([[0.0, -np.inf]], np.float32)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(tvmprims.scale_channels(x, s), x * s[:, :, None, None])


@pytest.mark.parametrize("target,vector_bytes", target_params())
def test_code_is_vectorised_along_the_plane(target, vector_bytes):
    """Full-width vector loads of x along each plane (7x7: its partial last vector a
    separate part), a parallel launch only from PARALLEL_MIN_ELEMENTS elements."""
    lanes = vector_bytes // 4
    small = compile_for(target, "scale_channels", (1, 16, 7, 7), (1, 16, 1, 1)).llvm_ir()
    large = compile_for(target, "scale_channels", (1, 960, 7, 7), (1, 960, 1, 1)).llvm_ir()
    assert 16 * 49 < PARALLEL_MIN_ELEMENTS <= 960 * 49
    for ir in (small, large):
        assert re.search(rf"load <{lanes} x float>", ir), f"no <{lanes} x float> loads"
    assert "TVMBackendParallelLaunch" not in small
    assert "TVMBackendParallelLaunch" in large
