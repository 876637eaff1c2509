"""NaN and inf: every algorithm that ``conv2d(algo="auto")`` may run gives torch's pattern of
NaN, +inf and -inf, whichever algorithm wins on this machine; matmul gives numpy's (the
approximate log domain: NaN wherever numpy's result is not finite)."""

import numpy as np
import pytest

import tvmprims
import tvmprims.algorithms
from tvmprims.api import conv2d_workload
from tvmprims.ops.registry import CONV2D_ALGORITHM_TABLE, PROPAGATES_NON_FINITE
from tvmprims.testing import conv2d_ref, matmul_ref


def _poison(rng, a, count, values=(np.nan, np.inf, -np.inf)):
    a = a.copy()
    flat = a.reshape(-1)
    for index, value in zip(rng.choice(flat.size, count, replace=False),
                            rng.choice(values, count)):
        flat[index] = value
    return a


def assert_same_non_finite(out, ref, rtol=1e-4):
    """Same NaN, +inf and -inf positions as ``ref``; finite values close."""
    for test in (np.isnan, np.isposinf, np.isneginf):
        mismatch = np.argwhere(test(out) != test(ref))
        assert mismatch.size == 0, f"{test.__name__} differs at {mismatch[:5].tolist()}"
    finite = np.isfinite(ref)
    scale = max(1.0, float(np.abs(ref[finite]).max(initial=0)))
    assert np.abs(out[finite] - ref[finite]).max(initial=0) <= rtol * scale


LAYERS = [  # x shape, w shape, padding, groups: Winograd and FFT both apply to each
    ((1, 4, 12, 13), (5, 4, 3, 3), 1, 1),
    ((2, 6, 9, 8), (6, 3, 3, 3), 0, 2),
]


@pytest.mark.parametrize("algo", [*PROPAGATES_NON_FINITE, "auto"])
@pytest.mark.parametrize("x_shape,w_shape,padding,groups", LAYERS)
@pytest.mark.parametrize("where", ["x", "both"])
def test_conv2d_propagates_like_torch(rng, algo, x_shape, w_shape, padding, groups, where):
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    if where in ("x", "both"):
        x = _poison(rng, x, 3)
    if where in ("w", "both"):
        w = _poison(rng, w, 1)
        w.reshape(-1)[0] = 0.0  # a zero weight: inf * 0 is NaN
    out = tvmprims.conv2d(x, w, padding=padding, groups=groups, algo=algo)
    assert_same_non_finite(out, conv2d_ref(x, w, padding=padding, groups=groups))


@pytest.mark.parametrize("forced", [a for a in CONV2D_ALGORITHM_TABLE
                                    if a not in PROPAGATES_NON_FINITE])
def test_auto_reruns_a_transform_algorithm_directly(rng, monkeypatch, forced):
    """Whatever auto picks (forced here), non-finite input gives torch's pattern, and finite
    input keeps the picked algorithm's result."""
    x_shape, w_shape, padding, groups = LAYERS[0]
    chosen = conv2d_workload(x_shape, w_shape, None, "float32", 1, padding, 1, groups, forced)
    monkeypatch.setattr(tvmprims.algorithms, "choose_algorithm", lambda *a, **k: chosen)
    tvmprims.clear_cache()  # calls remember the kernel auto chose before the patch
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    clean = tvmprims.conv2d(x, w, padding=padding)
    assert np.array_equal(clean, tvmprims.build(chosen.op, *chosen.shapes,
                                                **dict(chosen.params))(x, w))
    x = _poison(rng, x, 1, values=(np.nan,))
    if forced == "fft":  # the transform spreads one NaN over the whole output
        assert np.isnan(tvmprims.conv2d(x, w, padding=padding, algo=forced)).all()
    assert_same_non_finite(tvmprims.conv2d(x, w, padding=padding),
                           conv2d_ref(x, w, padding=padding))


def test_depthwise_and_conv1d_propagate_like_torch(rng):
    import torch
    x = _poison(rng, rng.standard_normal((2, 6, 10, 11)).astype(np.float32), 4)
    w = rng.standard_normal((6, 1, 3, 3)).astype(np.float32)
    assert_same_non_finite(tvmprims.depthwise_conv2d(x, w, padding=1),
                           conv2d_ref(x, w, padding=1, groups=6))
    x1 = _poison(rng, rng.standard_normal((2, 3, 40)).astype(np.float32), 3)
    w1 = rng.standard_normal((4, 3, 5)).astype(np.float32)
    ref = torch.nn.functional.conv1d(torch.from_numpy(x1).double(), torch.from_numpy(w1).double(),
                                     padding=2).numpy()
    assert_same_non_finite(tvmprims.conv1d(x1, w1, padding=2), ref)


@pytest.mark.parametrize("algo", ["direct", "log"])
@pytest.mark.parametrize("m,k,n", [(5, 7, 3), (33, 65, 17)])
def test_matmul_propagates_like_numpy(rng, algo, m, k, n):
    a = _poison(rng, rng.standard_normal((m, k)).astype(np.float32), 3)
    b = _poison(rng, rng.standard_normal((k, n)).astype(np.float32), 2)
    b[0, :] = 0.0  # zeros meeting inf and NaN in a's first column
    a[:, 0] = np.where(np.arange(m) % 2, np.inf, a[:, 0])
    assert_same_non_finite(tvmprims.matmul(a, b, algo=algo), matmul_ref(a, b),
                           rtol=1e-3 if algo == "log" else 1e-4)


def test_matmul_log_of_zero_is_exact(rng):
    """Zero times any finite value, the largest included, is 0 in the log domain."""
    a = np.array([[0.0, 3.0e38, -0.0, 1.0]], np.float32)
    b = np.array([[3.0e38], [0.0], [np.finfo(np.float32).max], [2.0]], np.float32)
    assert tvmprims.matmul(a, b, algo="log")[0, 0] == pytest.approx(2.0, rel=1e-6)


@pytest.mark.parametrize("bits", [0, 3, 8])
def test_log_approx_is_nan_where_numpy_is_not_finite(rng, bits):
    a = _poison(rng, rng.standard_normal((9, 12)).astype(np.float32), 2)
    b = _poison(rng, rng.standard_normal((12, 7)).astype(np.float32), 2)
    out = tvmprims.matmul(a, b, algo="log-approx", log_bits=bits)
    ref = matmul_ref(a, b)
    assert np.array_equal(np.isnan(out), ~np.isfinite(ref))
    assert np.isfinite(out[np.isfinite(ref)]).all()
