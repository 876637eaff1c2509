"""concat against numpy.concatenate (torch.cat): channels of NCHW and other axes."""

import numpy as np
import pytest

import tvmprims
from tvmprims.testing import assert_close, concat_ref

CASES = [
    ([(1, 64, 56, 56), (1, 64, 56, 56)], 1),            # GoogLeNet / SqueezeNet fire
    ([(1, 3, 7, 7), (1, 5, 7, 7), (1, 1, 7, 7)], 1),    # primes
    ([(2, 128, 7, 7)] + [(2, 32, 7, 7)] * 12, 1),       # DenseNet block
    ([(1, 1, 1, 1), (1, 1, 1, 1)], 1),
    ([(2, 3, 4, 5), (2, 3, 4, 2)], -1),
    ([(3, 4, 5, 6), (1, 4, 5, 6)], 0),
    ([(5,), (7,)], 0),
    ([(2, 3), (2, 9)], 1),
    ([(2, 3, 5, 7)], 1),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shapes,axis", CASES, ids=str)
def test_against_numpy(rng, dtype, shapes, axis):
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    out = tvmprims.concat(arrays, axis)
    np.testing.assert_array_equal(out, concat_ref(arrays, axis).astype(dtype))
    assert_close(out, concat_ref(arrays, axis), dtype, 1)


def test_large_inputs_in_parallel(rng):
    arrays = [rng.standard_normal((1, c, 28, 28)).astype("float32") for c in (96, 160)]
    np.testing.assert_array_equal(tvmprims.concat(arrays), np.concatenate(arrays, 1))
