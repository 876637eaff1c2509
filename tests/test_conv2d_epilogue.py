"""The fused convolution epilogue ``act(conv + bias + residual)`` and the pre-packed direct
weight (``tvmprims.ops.conv2d``), for every conv2d algorithm, on CPU and (generated source,
emulated) CUDA, against float64 torch."""

import numpy as np
import pytest

import tvmprims as tp
from tvmprims import testing
from tvmprims.build import build_workload
from tvmprims.ops import conv2d as conv2d_op
from tvmprims.ops.registry import conv2d_workload
from tvmprims.schedules.cpu import conv2d as cpu_conv2d
from tvmprims.target import resolve_target

# (x, weight, stride, padding, groups, algorithms that apply)
LAYERS = [
    ((1, 5, 11, 13), (7, 5, 3, 3), 1, 1, 1, ("direct", "im2col", "winograd2", "winograd4", "fft")),
    ((2, 16, 9, 9), (32, 16, 3, 3), 1, 1, 1, ("direct", "winograd4")),
    ((1, 12, 14, 14), (18, 4, 3, 3), 2, 1, 3, ("direct", "im2col")),
    ((1, 24, 7, 7), (40, 24, 1, 1), 1, 0, 1, ("direct", "im2col")),
    ((1, 3, 17, 17), (8, 3, 7, 7), 2, 3, 1, ("direct", "im2col")),
    ((1, 1, 1, 1), (1, 1, 1, 1), 1, 0, 1, ("direct", "im2col", "fft")),
]
EPILOGUES = [("relu", True, True), ("relu6", False, True), ("silu", True, False),
             (None, True, True), ("relu", False, False), ("sigmoid", True, False),
             ("hardsigmoid", False, True), ("hardswish", True, True)]


def _reference(x, w, b, r, stride, padding, groups, activation):
    out = testing.conv2d_ref(x, w, b, stride, padding, groups=groups)
    return testing.epilogue_ref(out, activation, r)


def _case(rng, x_shape, w_shape, stride, padding, groups, bias, residual, dtype="float32"):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype) if bias else None
    n, _, h, wd = x_shape
    oh = (h + 2 * padding - w_shape[2]) // stride + 1
    ow = (wd + 2 * padding - w_shape[3]) // stride + 1
    r = rng.standard_normal((n, w_shape[0], oh, ow)).astype(dtype) if residual else None
    return x, w, b, r


@pytest.mark.parametrize("activation, bias, residual", EPILOGUES)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, groups, algos", LAYERS)
def test_every_algorithm(x_shape, w_shape, stride, padding, groups, algos, activation, bias,
                         residual, rng):
    x, w, b, r = _case(rng, x_shape, w_shape, stride, padding, groups, bias, residual)
    expected = _reference(x, w, b, r, stride, padding, groups, activation)
    reduction = int(np.prod(w_shape[1:]))
    for algo in algos:
        tol = 1 if algo == "direct" else 100
        actual = tp.conv2d(x, w, b, stride, padding, groups=groups, algo=algo,
                           activation=activation, residual=r)
        testing.assert_close(actual, expected, "float32", reduction * tol)


def test_float64_and_depthwise(rng):
    x, w, b, r = _case(rng, (2, 6, 13, 10), (12, 1, 5, 5), 2, 2, 6, True, True, "float64")
    expected = _reference(x, w, b, r, 2, 2, 6, "silu")
    testing.assert_close(tp.depthwise_conv2d(x, w, b, 2, 2, activation="silu", residual=r),
                         expected, "float64", 25)
    testing.assert_close(tp.conv2d(x, w, b, 2, 2, groups=6, activation="silu", residual=r),
                         expected, "float64", 25)


def test_auto_shares_the_bare_layers_choice(rng):
    x, w, b, r = _case(rng, (1, 64, 28, 28), (64, 64, 3, 3), 1, 1, 1, True, True)
    direct = conv2d_workload(x.shape, w.shape, b.shape, padding=1)
    fused = conv2d_workload(x.shape, w.shape, b.shape, padding=1, activation="relu",
                            residual=True)
    from tvmprims.algorithms import choose_algorithm
    from tvmprims.ops.registry import algorithm_of
    bare, chosen = choose_algorithm(direct), choose_algorithm(fused)
    assert algorithm_of(bare) == algorithm_of(chosen)
    assert chosen.get("activation") == "relu" and chosen.get("residual") is True
    testing.assert_close(tp.conv2d(x, w, b, padding=1, activation="relu", residual=r),
                         _reference(x, w, b, r, 1, 1, 1, "relu"), "float32", 64 * 9 * 100)


def test_defaults_keep_the_workload_key():
    """A layer without epilogue or packing has the same workload (so the same cache and
    tuning-record keys) as before these options existed."""
    wl = conv2d_op.workload((1, 8, 9, 9), (8, 8, 3, 3), None, padding=1)
    assert dict(wl.params).keys() == {"stride", "padding", "dilation", "groups"}
    assert len(wl.shapes) == 2


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, groups", [
    ((1, 16, 14, 14), (32, 16, 3, 3), 1, 1, 1),
    ((2, 32, 9, 11), (48, 16, 3, 3), 2, 1, 2),
    ((1, 64, 7, 7), (40, 64, 1, 1), 1, 0, 1),
    ((1, 8, 5, 5), (13, 8, 3, 3), 1, 1, 1),
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_prepacked_weight(x_shape, w_shape, stride, padding, groups, dtype, rng):
    x, w, b, r = _case(rng, x_shape, w_shape, stride, padding, groups, True, True, dtype)
    target = resolve_target(None)
    plain = conv2d_op.workload(x.shape, w.shape, b.shape, dtype, stride, padding,
                               groups=groups)
    block = cpu_conv2d.weight_block(plain, target)
    assert block is not None and w_shape[0] % block == 0
    packed = conv2d_op.pack_weight(w, block)
    assert packed.shape == (w_shape[0] // block, *w_shape[1:], block)
    np.testing.assert_array_equal(packed[1 % packed.shape[0], :, :, :, block - 1],
                                  w[(1 % packed.shape[0]) * block + block - 1])
    wl = conv2d_op.workload(x.shape, packed.shape, b.shape, dtype, stride, padding,
                            groups=groups, activation="relu6", residual=True,
                            weight_block=block)
    assert wl.output_shape == r.shape
    kernel = build_workload(wl)
    assert "W_global" not in kernel.script()  # no packing pass in the kernel
    testing.assert_close(kernel(x, packed, b, r),
                         _reference(x, w, b, r, stride, padding, groups, "relu6"), dtype,
                         int(np.prod(w_shape[1:])))


def test_prepacked_weight_of_another_width_is_refused():
    plain = conv2d_op.workload((1, 16, 14, 14), (32, 16, 3, 3), None, padding=1)
    block = cpu_conv2d.weight_block(plain, resolve_target(None))
    other = next(b for b in (1, 2, 4, 8, 16, 32) if b != block and 32 % b == 0)
    wl = conv2d_op.workload((1, 16, 14, 14), (32 // other, 16, 3, 3, other), None, padding=1,
                            weight_block=other)
    with pytest.raises(ValueError, match="packed in"):
        build_workload(wl)


@pytest.mark.parametrize("w_shape, kwargs, match", [
    ((4, 4, 3, 3), dict(activation="gelu"), "activation must be"),
    ((4, 4, 3, 3), dict(residual="yes"), "residual must be a bool"),
    ((2, 4, 3, 3, 2), dict(weight_block=0), "positive int"),
    ((4, 4, 3, 3), dict(weight_block=2), "must have shape"),
    ((2, 4, 3, 3, 2), dict(weight_block=3), "must have shape"),
])
def test_bad_options(w_shape, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        conv2d_op.workload((1, 4, 8, 8), w_shape, None, **kwargs)
    with pytest.raises(ValueError, match="must divide"):
        conv2d_op.pack_weight(np.zeros((4, 4, 3, 3)), 3)


def test_residual_of_the_wrong_shape_is_refused(rng):
    x, w, b, r = _case(rng, (1, 4, 8, 8), (4, 4, 3, 3), 1, 1, 1, False, True)
    with pytest.raises(ValueError, match="residual"):
        tp.conv2d(x, w, padding=1, residual=r[:, :, :-1])


CUDA_CASES = [
    ("direct", (1, 5, 11, 13), (7, 5, 3, 3), 1, 1, 1, "relu6"),
    ("im2col", (1, 12, 9, 9), (18, 4, 3, 3), 2, 1, 3, "relu"),
    ("direct", (2, 8, 10, 10), (12, 8, 1, 1), 2, 0, 1, "silu"),
    ("direct", (1, 6, 13, 10), (6, 1, 3, 3), 2, 1, 6, "silu"),  # depthwise
]


@pytest.mark.parametrize("algo, x_shape, w_shape, stride, padding, groups, activation",
                         CUDA_CASES)
def test_cuda_kernels_emulated(algo, x_shape, w_shape, stride, padding, groups, activation,
                               rng, tmp_path):
    """The CUDA schedules fold the epilogue into their write-back: the generated kernel,
    run by the CPU emulator of ``tests/cuda_support.py``, matches torch."""
    from cuda_support import emulate
    x, w, b, r = _case(rng, x_shape, w_shape, stride, padding, groups, True, True)
    wl = conv2d_workload(x.shape, w.shape, b.shape, "float32", stride, padding, groups=groups,
                         algo=algo, activation=activation, residual=True)
    kernel = build_workload(wl, resolve_target("cuda"))
    actual = emulate(kernel, [x, w, b, r], tmp_path)
    testing.assert_close(actual, _reference(x, w, b, r, stride, padding, groups, activation),
                         "float32", int(np.prod(w_shape[1:])) * (1 if algo == "direct" else 100))


@pytest.mark.parametrize("algo", ["winograd4", "fft"])
def test_cuda_transform_algorithms_fuse_the_epilogue(algo):
    """Multi-kernel algorithms (not emulated): the residual and the activation are read and
    applied in the kernel that writes the output, with no separate epilogue kernel."""
    wl = conv2d_workload((1, 8, 10, 10), (8, 8, 3, 3), (8,), padding=1, algo=algo,
                         activation="silu", residual=True)
    bare = conv2d_workload((1, 8, 10, 10), (8, 8, 3, 3), (8,), padding=1, algo=algo)
    target = resolve_target("cuda")
    fused, plain = build_workload(wl, target).source(), build_workload(bare, target).source()
    assert fused.count("__global__") == plain.count("__global__")
    assert "residual" in fused and "residual" not in plain
    assert "floorf" in fused and "floorf" not in plain  # silu's exp: 2**floor(x / ln 2) * p
