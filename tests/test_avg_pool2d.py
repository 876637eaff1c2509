"""avg_pool2d against float64 torch: divisors with and without padding, ceil_mode windows
past the padded input, divisor_override."""

import pytest

import tvmprims
from tvmprims.testing import assert_close, avg_pool2d_ref

# (x shape, kernel_size, stride, padding, ceil_mode)
CASES = [
    ((1, 1, 1, 1), 1, None, 0, False),
    ((1, 64, 112, 112), 3, 2, 1, False),
    ((2, 3, 7, 7), 3, 2, 1, False),
    ((2, 3, 7, 7), 3, 2, 1, True),
    ((1, 256, 28, 28), 2, 2, 0, False),       # DenseNet transition
    ((1, 5, 13, 11), (3, 2), (2, 3), (1, 1), True),
    ((1, 3, 6, 6), 3, 2, 1, True),            # last window runs past the right padding
    ((2, 2, 17, 19), 4, 3, 2, True),
    ((1, 3, 2, 2), 3, 2, 0, True),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("shape,k,s,p,ceil", CASES, ids=str)
def test_against_torch(rng, dtype, count_include_pad, shape, k, s, p, ceil):
    x = rng.standard_normal(shape).astype(dtype)
    out = tvmprims.avg_pool2d(x, k, s, p, ceil, count_include_pad)
    kk = k if isinstance(k, tuple) else (k, k)
    assert_close(out, avg_pool2d_ref(x, k, s, p, ceil, count_include_pad), dtype,
                 kk[0] * kk[1])


def test_divisor_override(rng):
    x = rng.standard_normal((1, 3, 7, 7))
    assert_close(tvmprims.avg_pool2d(x, 3, 2, 1, divisor_override=5),
                 avg_pool2d_ref(x, 3, 2, 1, divisor_override=5), "float64", 9)
