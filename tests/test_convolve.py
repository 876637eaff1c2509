"""convolve against float64 numpy.convolve: every mode, both operand orders."""

import pytest

import tvmprims
from tvmprims.testing import assert_close, convolve_ref

MODES = ("full", "same", "valid")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n", [1, 10, 100, 1000, 10000])
@pytest.mark.parametrize("swap", [False, True], ids=["a-vs-1024", "1024-vs-a"])
def test_against_1024(rng, n, mode, swap):
    a = rng.standard_normal(n).astype("float32")
    v = rng.standard_normal(1024).astype("float32")
    if swap:
        a, v = v, a
    assert_close(tvmprims.convolve(a, v, mode), convolve_ref(a, v, mode), "float32", min(n, 1024))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n,m", [(1, 1), (2, 2), (5, 3), (3, 5), (31, 7), (33, 32), (97, 96)])
def test_small_and_odd(rng, n, m, mode):
    a, v = rng.standard_normal(n), rng.standard_normal(m)  # float64
    assert_close(tvmprims.convolve(a, v, mode), convolve_ref(a, v, mode), "float64", min(n, m))


def test_default_mode_is_full(rng):
    a, v = rng.standard_normal(20).astype("float32"), rng.standard_normal(6).astype("float32")
    assert tvmprims.convolve(a, v).shape == (25,)


def test_unscheduled_baseline(rng):
    a, v = rng.standard_normal(100).astype("float32"), rng.standard_normal(9).astype("float32")
    for mode in MODES:
        assert_close(tvmprims.convolve(a, v, mode, schedule="none"), convolve_ref(a, v, mode),
                     "float32", 9)
