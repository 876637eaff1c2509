"""add (with and without the fused ReLU) against float64 numpy, any rank."""

import numpy as np
import pytest

import tvmprims
from tvmprims.testing import add_ref, assert_close


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5), (1, 64, 56, 56), (2, 3, 7, 13),
                                   (1, 1, 1, 1), (2, 2, 2, 2, 3)], ids=str)
def test_against_numpy(rng, dtype, relu, shape):
    a, b = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    out = tvmprims.add(a, b, relu)
    assert out.shape == shape
    assert_close(out, add_ref(a, b, relu), dtype, 1)


def test_relu_keeps_nan():
    a = np.array([np.nan, -1.0, 2.0, -np.inf], np.float32)
    out = tvmprims.add(a, np.zeros(4, np.float32), relu=True)
    np.testing.assert_array_equal(out, [np.nan, 0.0, 2.0, 0.0])


def test_one_kernel_per_element_count(rng):
    a = rng.standard_normal((6, 10)).astype("float32")
    tvmprims.add(a, a)
    before = tvmprims.cache_info()["misses"]
    tvmprims.add(a.reshape(3, 20), a.reshape(3, 20))
    assert tvmprims.cache_info()["misses"] == before
