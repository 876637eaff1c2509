"""The dense operator (x @ w + bias, ReLU) on each CPU GEMM path, against float64 numpy."""

import numpy as np
import pytest

from tvmprims.api import build
from tvmprims.testing import assert_close, matmul_ref


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m,k,n", [(1, 4096, 1001), (3, 1, 7), (8, 576, 4095),  # gemv
                                   (17, 300, 1000), (61, 64, 64),  # gemm
                                   (20, 1100, 1001), (60, 1100, 1024)])  # blocked
@pytest.mark.parametrize("bias,relu", [(True, True), (False, True), (True, False)])
def test_dense_epilogue_on_every_path(rng, m, k, n, dtype, bias, relu):
    x = rng.standard_normal((m, k)).astype(dtype)
    w = rng.standard_normal((k, n)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype) if bias else None
    shapes = [(m, k), (k, n)] + ([(n,)] if bias else [])
    kernel = build("dense", *shapes, dtype=dtype, relu=relu)
    expected = matmul_ref(x, w) + (0 if b is None else b)
    expected = np.maximum(expected, 0) if relu else expected
    assert_close(kernel(*[a for a in (x, w, b) if a is not None]), expected, dtype, k)
