"""Property-based tests: random shapes, parameters, dtypes, thread counts (1 and 2) and memory
layouts (C order, Fortran order, strided views, addresses 4 to 32 bytes off alignment) for
every operator and algorithm, against float64 numpy/torch references.

CI runs a fixed set of 206 cases; ``TVMPRIMS_FUZZ_SCALE=N`` runs N times as many,
new random ones each run (a failure prints the shrunk case and how to reproduce it)::

    TVMPRIMS_FUZZ_SCALE=20 .venv/bin/python -m pytest tests/test_fuzz.py
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tvmprims
from tvmprims import algorithms
from tvmprims.ops.matmul_log import error_bound
from tvmprims.ops.conv2d import ACTIVATIONS
from tvmprims.testing import (assert_close, conv1d_ref, conv2d_ref, convolve_ref,
                              epilogue_ref, matmul_ref)

#: Multiplies every test's number of cases; 1 (CI) also fixes the cases (derandomised).
SCALE = int(os.environ.get("TVMPRIMS_FUZZ_SCALE", "1"))


def cases(n):
    """Hypothesis settings for ``n`` cases (times :data:`SCALE`); every case compiles a kernel,
    so the transform algorithms and ``auto`` (which compiles every algorithm) get fewer."""
    return settings(max_examples=n * SCALE, derandomize=SCALE == 1, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- strategies -----------------------------------------------------------------------------------

DTYPES = st.sampled_from(["float32", "float64"])
LAYOUTS = st.sampled_from(["C", "F", "strided", "offset4", "offset8", "offset16", "offset32"])


def laid_out(a, layout):
    """``a``'s values in another memory layout (what users pass: views, slices, buffers at
    any address)."""
    if layout == "C":
        return np.ascontiguousarray(a)
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        wide = np.empty(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        wide[..., ::2] = a
        return wide[..., ::2]
    offset = int(layout[len("offset"):])
    raw = np.empty(a.nbytes + 64 + offset, np.uint8)
    start = -raw.ctypes.data % 64 + offset
    view = raw[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    view[...] = a
    return view


def _set_threads(n):
    import tvm
    tvm.get_global_func("runtime.config_threadpool")(0, n)


@pytest.fixture(autouse=True)
def restore_threads():
    yield
    _set_threads(int(os.environ.get("TVM_NUM_THREADS", "0")))


@st.composite
def arrays(draw, shape, dtype):
    """A standard-normal array of ``shape`` in a random layout."""
    seed = draw(st.integers(0, 2**32 - 1))
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return laid_out(a, draw(LAYOUTS))


def _threads(draw):
    threads = draw(st.sampled_from([1, 2]))
    _set_threads(threads)
    return threads


EXTENT = st.one_of(st.sampled_from([1, 2, 3, 5, 7, 13, 17, 31, 33, 64, 67]),
                   st.integers(1, 80))


# --- matrix products ------------------------------------------------------------------------------

@cases(20)
@given(st.data(), EXTENT, EXTENT, EXTENT, DTYPES)
def test_matmul(data, m, k, n, dtype):
    _threads(data.draw)
    a, b = data.draw(arrays((m, k), dtype)), data.draw(arrays((k, n), dtype))
    assert_close(tvmprims.matmul(a, b), matmul_ref(a, b), dtype, k)


@cases(16)
@given(st.data(), EXTENT, EXTENT, EXTENT, st.sampled_from([None, 0, 2, 5, 8]))
def test_matmul_log(data, m, k, n, bits):
    _threads(data.draw)
    a, b = data.draw(arrays((m, k), "float32")), data.draw(arrays((k, n), "float32"))
    if bits is None:
        out = tvmprims.matmul(a, b, algo="log")
        bound, slack = 2e-6 * 40, 1e-4  # ln2 * eps * (|la + lb| + 2) per product, |log| < 40
    else:
        out = tvmprims.matmul(a, b, algo="log-approx", log_bits=bits)
        bound, slack = error_bound(bits), 1e-4
    magnitude = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    error = np.abs(out - matmul_ref(a, b))
    assert (error <= bound * magnitude + slack * np.sqrt(k)).all(), float(error.max())


@cases(12)
@given(st.data(), st.integers(1, 48), st.integers(1, 48), st.integers(1, 48),
       st.sampled_from([None, 1, 2, 3, 48]), st.sampled_from([None, 1, 4, 48]))
def test_lowrank_matmul(data, m, k, n, rank_a, rank_b):
    a, b = data.draw(arrays((m, k), "float64")), data.draw(arrays((k, n), "float64"))
    rank_a = None if rank_a is None else min(rank_a, m, k)  # at most the full rank
    rank_b = None if rank_b is None else min(rank_b, k, n)

    def truncated(x, rank):
        if rank is None:
            return x
        u, s, vt = np.linalg.svd(np.asarray(x, np.float64), full_matrices=False)
        r = min(rank, len(s))
        return (u[:, :r] * s[:r]) @ vt[:r]

    expected = truncated(a, rank_a) @ truncated(b, rank_b)
    assert_close(tvmprims.lowrank_matmul(a, b, rank_a, rank_b), expected, "float64", 4 * k)


# --- 1-D convolutions -----------------------------------------------------------------------------

@cases(20)
@given(st.data(), st.integers(1, 300), st.integers(1, 40), st.sampled_from(["full", "same", "valid"]),
       DTYPES)
def test_convolve(data, n, m, mode, dtype):
    _threads(data.draw)
    a, v = data.draw(arrays((n,), dtype)), data.draw(arrays((m,), dtype))
    assert_close(tvmprims.convolve(a, v, mode), convolve_ref(a, v, mode), dtype, min(n, m))


@cases(10)
@given(st.data(), st.sampled_from(["direct", "im2col", "fft", "auto"]), DTYPES)
def test_conv1d(data, algo, dtype):
    _threads(data.draw)
    groups = data.draw(st.sampled_from([1, 1, 2, 3]))
    n, length = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 70))
    c, o = groups * data.draw(st.integers(1, 4)), groups * data.draw(st.integers(1, 5))
    stride = 1 if algo == "fft" else data.draw(st.integers(1, 3))
    dilation, padding = data.draw(st.integers(1, 3)), data.draw(st.integers(0, 3))
    k = data.draw(st.integers(1, 9))
    assume(dilation * (k - 1) + 1 <= length + 2 * padding)
    x, w = data.draw(arrays((n, c, length), dtype)), data.draw(arrays((o, c // groups, k), dtype))
    bias = data.draw(st.one_of(st.none(), arrays((o,), dtype)))
    out = tvmprims.conv1d(x, w, bias, stride, padding, dilation, groups, algo=algo)
    _assert_conv_close(out, conv1d_ref(x, w, bias, stride, padding, dilation, groups), dtype,
                       c // groups * k, algo)


# --- 2-D convolutions -----------------------------------------------------------------------------

def _assert_conv_close(out, ref, dtype, taps, algo):
    """Direct and im2col: a sum of ``taps`` products; transform algorithms (and ``auto``,
    which may pick any): their search tolerance (in machine epsilons, relative to
    ``max(1, max|ref|)``)."""
    if algo in ("direct", "im2col"):
        assert_close(out, ref, dtype, taps)
        return
    assert out.shape == ref.shape and out.dtype == np.dtype(dtype)
    scale = max(1.0, float(np.abs(ref).max()))
    tolerance = max(algorithms.TOLERANCE.values()) if algo == "auto" else algorithms.TOLERANCE[algo]
    limit = tolerance * np.finfo(np.dtype(dtype)).eps
    error = float(np.abs(out - ref).max()) / scale
    assert error <= limit, f"{algo}: relative error {error:.3g} > {limit:.3g}"


@st.composite
def conv2d_layers(draw, algo):
    """``(x_shape, w_shape, stride, padding, dilation, groups)`` that ``algo`` applies to."""
    winograd = algo.startswith("winograd")
    groups = 1 if winograd else draw(st.sampled_from([1, 1, 2, 3]))
    n = draw(st.integers(1, 3))
    c, o = groups * draw(st.integers(1, 5)), groups * draw(st.integers(1, 6))
    h, w = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    if winograd:
        kh = kw = 3
        stride = dilation = (1, 1)
    else:
        kh, kw = draw(st.integers(1, 7)), draw(st.integers(1, 7))
        stride = (1, 1) if algo == "fft" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.one_of(st.integers(0, 3), st.tuples(*[st.integers(0, 3)] * 2)))
    pads = (padding, padding) if isinstance(padding, int) else padding
    assume(dilation[0] * (kh - 1) + 1 <= h + 2 * pads[0])
    assume(dilation[1] * (kw - 1) + 1 <= w + 2 * pads[1])
    return (n, c, h, w), (o, c // groups, kh, kw), stride, padding, dilation, groups


#: Cases per algorithm.
CONV2D_CASES = {"direct": 20, "im2col": 20, "winograd2": 10, "winograd4": 10, "fft": 8,
                "auto": 4}


def _conv2d_test(algo):
    @cases(CONV2D_CASES[algo])
    @given(data=st.data(), dtype=DTYPES)
    def test(data, dtype):
        _threads(data.draw)
        x_shape, w_shape, stride, padding, dilation, groups = data.draw(conv2d_layers(algo))
        x, w = data.draw(arrays(x_shape, dtype)), data.draw(arrays(w_shape, dtype))
        bias = data.draw(st.one_of(st.none(), arrays((w_shape[0],), dtype)))
        out = tvmprims.conv2d(x, w, bias, stride, padding, dilation, groups, algo=algo)
        ref = conv2d_ref(x, w, bias, stride, padding, dilation, groups)
        _assert_conv_close(out, ref, dtype, w_shape[1] * w_shape[2] * w_shape[3], algo)
    test.__name__ = f"test_conv2d_{algo}"
    return test


test_conv2d_direct = _conv2d_test("direct")
test_conv2d_im2col = _conv2d_test("im2col")
test_conv2d_winograd2 = _conv2d_test("winograd2")
test_conv2d_winograd4 = _conv2d_test("winograd4")
test_conv2d_fft = _conv2d_test("fft")
test_conv2d_auto = _conv2d_test("auto")


@st.composite
def model_like_layers(draw):
    """``(x_shape, w_shape, stride, padding, dilation, groups)`` with the channel counts of
    real networks (16 to 128), where ``algo="auto"``'s rules choose im2col and Winograd as
    well as direct (:func:`conv2d_layers`' few channels mostly get direct)."""
    c = draw(st.sampled_from([16, 24, 32, 48, 64, 96, 128]))
    groups = draw(st.sampled_from([1, 1, 1, 2, 4, c]))
    if groups == c:
        o = c * draw(st.sampled_from([1, 1, 2]))
    else:
        o = groups * max(1, draw(st.sampled_from([16, 32, 40, 64, 128])) // groups)
    k = draw(st.sampled_from([1, 3, 3, 3, 5, 7]))
    stride, dilation = draw(st.sampled_from([1, 1, 2])), draw(st.sampled_from([1, 1, 1, 2]))
    padding = draw(st.one_of(st.integers(0, 3), st.tuples(*[st.integers(0, 3)] * 2)))
    pads = (padding, padding) if isinstance(padding, int) else padding
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    assume(dilation * (k - 1) + 1 <= min(h + 2 * pads[0], w + 2 * pads[1]))
    return (draw(st.integers(1, 3)), c, h, w), (o, c // groups, k, k), stride, padding, \
        dilation, groups


@cases(8)
@given(data=st.data(), dtype=DTYPES)
def test_conv2d_auto_on_model_like_layers(data, dtype):
    """``algo="auto"`` on layers of real channel counts (an unpadded 64-channel 3x3 layer,
    which auto gives Winograd, once failed to compile)."""
    _threads(data.draw)
    x_shape, w_shape, stride, padding, dilation, groups = data.draw(model_like_layers())
    x, w = data.draw(arrays(x_shape, dtype)), data.draw(arrays(w_shape, dtype))
    bias = data.draw(st.one_of(st.none(), arrays((w_shape[0],), dtype)))
    out = tvmprims.conv2d(x, w, bias, stride, padding, dilation, groups)
    ref = conv2d_ref(x, w, bias, stride, padding, dilation, groups)
    _assert_conv_close(out, ref, dtype, w_shape[1] * w_shape[2] * w_shape[3], "auto")


@cases(16)
@given(st.data(), st.sampled_from(["direct", "direct", "im2col", "winograd4"]), DTYPES,
       st.sampled_from([None, *ACTIVATIONS]), st.booleans())
def test_conv2d_layer_with_epilogue(data, algo, dtype, activation, residual):
    """``tvmprims.nn.Conv2d`` (weight packed or transformed once) with a random fused
    epilogue, called twice (the second call on the prepared weight)."""
    from tvmprims.nn import Conv2d
    _threads(data.draw)
    x_shape, w_shape, stride, padding, dilation, groups = data.draw(conv2d_layers(algo))
    x, w = data.draw(arrays(x_shape, dtype)), data.draw(arrays(w_shape, dtype))
    bias = data.draw(st.one_of(st.none(), arrays((w_shape[0],), dtype)))
    expected = conv2d_ref(x, w, bias, stride, padding, dilation, groups)
    r = data.draw(arrays(expected.shape, dtype)) if residual else None
    expected = epilogue_ref(expected, activation, r)
    layer = Conv2d(w, bias, stride, padding, dilation, groups, activation, algo=algo)
    for _ in range(2):
        _assert_conv_close(layer(x, r), expected, dtype, w_shape[1] * w_shape[2] * w_shape[3],
                           algo)


@cases(20)
@given(st.data(), DTYPES)
def test_depthwise_conv2d(data, dtype):
    _threads(data.draw)
    c, multiplier = data.draw(st.integers(1, 12)), data.draw(st.integers(1, 3))
    n, h, w = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 30)), data.draw(st.integers(1, 30))
    k = data.draw(st.sampled_from([1, 3, 5, 7]))
    stride, dilation = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 2))
    padding = data.draw(st.integers(0, 3))
    assume(dilation * (k - 1) + 1 <= min(h, w) + 2 * padding)
    x, wt = data.draw(arrays((n, c, h, w), dtype)), data.draw(arrays((c * multiplier, 1, k, k), dtype))
    bias = data.draw(st.one_of(st.none(), arrays((c * multiplier,), dtype)))
    out = tvmprims.depthwise_conv2d(x, wt, bias, stride, padding, dilation)
    assert_close(out, conv2d_ref(x, wt, bias, stride, padding, dilation, groups=c), dtype, k * k)


@cases(12)
@given(st.data(), st.integers(1, 40), st.integers(1, 70), st.integers(1, 40), st.booleans())
def test_dense_layer(data, m, k, n, relu):
    from tvmprims.nn import Dense
    x = data.draw(arrays((m, k), "float32"))
    weight = data.draw(arrays((n, k), "float32"))  # torch.nn.Linear layout (out, in)
    bias = data.draw(arrays((n,), "float32"))
    expected = matmul_ref(x, np.asarray(weight).T) + bias
    if relu:
        expected = np.maximum(expected, 0)
    assert_close(Dense(weight, bias, relu=relu)(x), expected, "float32", k)
