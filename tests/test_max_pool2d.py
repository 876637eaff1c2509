"""max_pool2d against float64 torch: awkward shapes, strides, padding, dilation, ceil_mode."""

import numpy as np
import pytest

import tvmprims
from tvmprims.testing import assert_close, max_pool2d_ref

# (x shape, kernel_size, stride, padding, dilation, ceil_mode)
CASES = [
    ((1, 1, 1, 1), 1, None, 0, 1, False),
    ((1, 64, 112, 112), 3, 2, 1, 1, False),     # ResNet stem
    ((2, 3, 7, 7), 3, 2, 1, 1, False),
    ((2, 3, 7, 7), 3, 2, 1, 1, True),
    ((1, 5, 13, 11), (3, 2), (2, 3), (1, 1), (2, 1), True),
    ((1, 96, 55, 55), 3, 2, 0, 1, True),        # SqueezeNet, ceil_mode
    ((3, 2, 17, 19), 2, None, 0, 1, False),
    ((1, 3, 2, 2), 3, 2, 0, 1, True),           # kernel past the input, allowed by ceil_mode
    ((1, 4, 31, 29), 5, 1, 2, 1, False),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,k,s,p,d,ceil", CASES, ids=str)
def test_against_torch(rng, dtype, shape, k, s, p, d, ceil):
    x = rng.standard_normal(shape).astype(dtype)
    out = tvmprims.max_pool2d(x, k, s, p, d, ceil)
    assert_close(out, max_pool2d_ref(x, k, s, p, d, ceil), dtype, 1)


def test_nan_and_inf_propagate_as_in_torch(rng):
    x = rng.standard_normal((1, 2, 6, 6)).astype("float32")
    x[0, 0, 1, 1], x[0, 1, 4, 4] = np.nan, -np.inf
    np.testing.assert_array_equal(tvmprims.max_pool2d(x, 3, 2, 1),
                                  max_pool2d_ref(x, 3, 2, 1).astype("float32"))


def test_unscheduled_baseline(rng):
    x = rng.standard_normal((1, 3, 9, 9))
    assert_close(tvmprims.max_pool2d(x, 3, 2, 1, schedule="none"), max_pool2d_ref(x, 3, 2, 1),
                 "float64", 1)
