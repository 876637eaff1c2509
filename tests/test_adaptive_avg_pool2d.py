"""adaptive_avg_pool2d and adaptive_max_pool2d against float64 torch: global pooling,
windows of one length (a plain pool) and of varying lengths, outputs larger than inputs."""

import numpy as np
import pytest

import tvmprims
from tvmprims.testing import adaptive_avg_pool2d_ref, adaptive_max_pool2d_ref, assert_close

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
