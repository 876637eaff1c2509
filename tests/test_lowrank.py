"""Low-rank matmul (tvmprims.lowrank) against float64 numpy SVD products."""

import numpy as np
import pytest

import tvmprims as tp
from tvmprims import lowrank
from tvmprims.testing import assert_close


def truncated(x, rank):
    """float64 best rank-``rank`` approximation of ``x``."""
    u, s, vt = np.linalg.svd(np.asarray(x, np.float64), full_matrices=False)
    return (u[:, :rank] * s[:rank]) @ vt[:rank]


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (13, 1), (31, 17), (64, 200), (257, 129)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_factorize_is_the_truncated_svd(rng, shape, dtype):
    w = rng.standard_normal(shape).astype(dtype)
    full = min(shape)
    for rank in sorted({1, (full + 1) // 2, full}):
        f = lowrank.factorize(w, rank)
        assert f.left.shape == (shape[0], rank) and f.right.shape == (rank, shape[1])
        assert f.left.dtype == f.right.dtype == np.dtype(dtype) and f.rank == rank
        assert f.size == rank * (shape[0] + shape[1])
        assert_close(f.dense(), truncated(w, rank), dtype, rank)
    assert_close(lowrank.factorize(w).dense(), w.astype(np.float64), dtype, full)


def test_error_decreases_with_rank_and_matches_eckart_young(rng):
    w = rng.standard_normal((60, 40))
    s = np.linalg.svd(w, compute_uv=False)
    errors = []
    for rank in range(1, 41):
        err = np.linalg.norm(lowrank.factorize(w, rank).dense() - w)
        assert err == pytest.approx(np.sqrt(np.sum(s[rank:] ** 2)), abs=1e-9)
        errors.append(err)
    assert all(a > b for a, b in zip(errors, errors[1:]))
    assert errors[-1] < 1e-10


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 13, 5), (64, 64, 64), (127, 61, 131),
                                   (300, 1, 2), (1, 97, 1)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lowrank_matmul_against_numpy(rng, m, k, n, dtype):
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    ra, rb = max(1, min(m, k) // 2), max(1, min(k, n) // 3)
    cases = [((ra, None), truncated(a, ra) @ b.astype(np.float64)),
             ((None, rb), a.astype(np.float64) @ truncated(b, rb)),
             ((ra, rb), truncated(a, ra) @ truncated(b, rb)),
             ((None, None), a.astype(np.float64) @ b.astype(np.float64))]
    for (rank_a, rank_b), expected in cases:
        out = tp.lowrank_matmul(a, b, rank_a, rank_b)
        assert_close(out, expected, dtype, k)


def test_full_rank_is_exact(rng):
    a, b = rng.standard_normal((40, 30)), rng.standard_normal((30, 50))
    np.testing.assert_allclose(tp.lowrank_matmul(a, b, 30, 30), a @ b, rtol=0, atol=1e-11)


def test_reused_factors_need_no_svd(rng, monkeypatch):
    a, b = rng.standard_normal((80, 60)), rng.standard_normal((60, 70))
    fa, fb = lowrank.factorize(a, 10), lowrank.factorize(b, 20)
    both, left = truncated(a, 10) @ truncated(b, 20), truncated(a, 10) @ b
    monkeypatch.setattr(np.linalg, "svd", lambda *args, **kw: pytest.fail("SVD redone"))
    assert_close(tp.lowrank_matmul(fa, fb), both, "float64", 60)
    assert_close(tp.lowrank_matmul(fa, b), left, "float64", 60)


def test_error_falls_with_rank_in_the_product(rng):
    a, b = rng.standard_normal((50, 50)), rng.standard_normal((50, 50))
    exact = a @ b
    errors = [np.linalg.norm(tp.lowrank_matmul(a, b, r) - exact) for r in (5, 15, 30, 45, 50)]
    assert all(x > y for x, y in zip(errors, errors[1:])) and errors[-1] < 1e-9


def _all_orders(i, j):
    if i == j:
        yield i
        return
    for k in range(i, j):
        for left in _all_orders(i, k):
            for right in _all_orders(k + 1, j):
                yield (left, right)


@pytest.mark.parametrize("dims", [(1000, 10, 1000, 10, 1000), (5, 500, 5, 500, 5),
                                  (64, 64, 8, 64, 64), (3, 7), (2, 9, 4)])
def test_chain_order_is_the_cheapest(dims):
    order, flops = lowrank.chain_order(dims)
    count = len(dims) - 1
    costs = [lowrank.chain_flops(dims, o) for o in _all_orders(0, count - 1)]
    assert flops == min(costs) == lowrank.chain_flops(dims, order)


def test_cheap_order_is_used(rng, monkeypatch):
    """Rank-4 factors of 300x300 operands: the product must go through the 4x4 core."""
    calls = []
    real = lowrank.matmul
    monkeypatch.setattr(lowrank, "matmul", lambda a, b, **kw: calls.append(
        (a.shape, b.shape)) or real(a, b, **kw))
    a, b = rng.standard_normal((300, 300)), rng.standard_normal((300, 300))
    tp.lowrank_matmul(a, b, 4, 4)
    assert max(x[0] * x[1] * y[1] for x, y in calls) <= 300 * 300 * 4


@pytest.mark.parametrize("call, error, message", [
    (lambda a: lowrank.factorize(a, 0), ValueError, r"rank must be between 1 and 5 .*got 0"),
    (lambda a: lowrank.factorize(a, 6), ValueError, r"rank must be between 1 and 5 .*got 6"),
    (lambda a: lowrank.factorize(a, 2.0), TypeError, r"rank must be an int or None, got 2.0"),
    (lambda a: lowrank.factorize(a[0], 1), ValueError, r"factorize expects a 2-D matrix"),
    (lambda a: lowrank.factorize(a.astype(np.int32), 1), TypeError, r"w has dtype int32"),
    (lambda a: lowrank.factorize(np.ones((0, 3)), 1), ValueError, r"w is empty"),
    (lambda a: tp.lowrank_matmul(a, a, 1, 7), ValueError, r"rank_b must be between 1 and 5"),
    (lambda a: tp.lowrank_matmul(a, a, 1), ValueError, r"inner dimensions differ"),
    (lambda a: tp.lowrank_matmul(lowrank.factorize(a, 2), a.T, 2), ValueError,
     r"a is already factorised \(rank 2\): pass rank None"),
    (lambda a: tp.lowrank_matmul(a, a.T.astype(np.float32)), TypeError, r"mixed dtypes"),
    (lambda a: tp.lowrank_matmul(a[None], a.T), ValueError, r"expects 2-D operands"),
])
def test_bad_input(call, error, message):
    a = np.ones((5, 8))
    with pytest.raises(error, match=message):
        call(a)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_factorising_a_non_finite_matrix_is_a_clear_error(bad):
    a = np.ones((6, 5), np.float32)
    a[2, 3] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        tp.lowrank_matmul(a, np.ones((5, 4), np.float32), rank_a=2)
