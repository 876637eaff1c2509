"""matmul against float64 numpy over awkward and large shapes."""

import itertools

import numpy as np
import pytest

import tvmprims
from tvmprims.testing import assert_close, matmul_ref, workspace_allocations
from cpu_targets import compile_for, target_params

SMALL = (1, 7, 64, 127)
LARGE = [(2048, 2048, 2048), (1, 2048, 2048), (2048, 1, 3), (1021, 1031, 1033), (3, 2048, 1),
         (256, 17, 512)]


def _check(rng, m, k, n, dtype, schedule="hand"):
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    assert_close(tvmprims.matmul(a, b, schedule=schedule), matmul_ref(a, b), dtype, k)


@pytest.mark.parametrize("m,k,n", list(itertools.product(SMALL, repeat=3)))
def test_small_and_prime_shapes(rng, m, k, n):
    _check(rng, m, k, n, "float32")


@pytest.mark.parametrize("m,k,n", LARGE)
def test_large_shapes(rng, m, k, n):
    _check(rng, m, k, n, "float32")


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 127, 64), (127, 64, 7), (300, 301, 302)])
def test_float64(rng, m, k, n):
    _check(rng, m, k, n, "float64")


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 13, 5), (64, 64, 64)])
def test_unscheduled_baseline(rng, m, k, n):
    _check(rng, m, k, n, "float32", schedule="none")


def test_matches_numpy_output_shape_and_dtype(rng):
    a = rng.standard_normal((5, 3)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    c = tvmprims.matmul(a, b)
    assert c.shape == np.matmul(a, b).shape and c.dtype == np.float32


@pytest.mark.parametrize("target,vector_bytes", target_params())
def test_register_tile_is_not_a_workspace(target, vector_bytes):
    # Only the packed B panels are a workspace; the accumulator tile (4 x 16 floats on AVX2,
    # 4 x 32 on AVX-512) is a stack array (CPU_REGISTER_SCOPE), not an allocation per tile,
    # on every CPU family.
    kernel = compile_for(target, "matmul", (64, 64), (64, 64))
    assert workspace_allocations(kernel) == 1
