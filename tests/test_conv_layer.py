"""tvmprims.nn.Conv2d (tvmprims.conv_layer): weights prepared once, batch norm folded, epilogue
fused; against float64 torch."""

import numpy as np
import pytest
import torch

from tvmprims import testing
from tvmprims.conv_layer import fold_batch_norm
from tvmprims.nn import Conv2d


def _batch_norm(channels, seed):
    g = torch.Generator().manual_seed(seed)
    bn = torch.nn.BatchNorm2d(channels).double().eval()
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(channels, generator=g, dtype=torch.float64))
        bn.running_var.copy_(torch.rand(channels, generator=g, dtype=torch.float64) + 0.5)
        bn.weight.copy_(torch.rand(channels, generator=g, dtype=torch.float64) + 0.5)
        bn.bias.copy_(torch.randn(channels, generator=g, dtype=torch.float64))
    return bn


def _reference(conv, bn, activation, x, residual):
    conv = conv.double()
    with torch.no_grad():
        out = conv(torch.from_numpy(x.astype(np.float64)))
        if bn is not None:
            out = bn(out)
        if residual is not None:
            out = out + torch.from_numpy(residual.astype(np.float64))
        if activation is not None:
            out = getattr(torch.nn.functional, activation)(out)
    return out.numpy()


# (in, out, kernel, stride, padding, groups, x shape, algorithms)
LAYERS = [
    (16, 24, 3, 1, 1, 1, (2, 16, 15, 15), ("auto", "direct", "im2col", "winograd2", "winograd4", "fft")),
    (64, 64, 3, 1, 1, 1, (1, 64, 14, 14), ("auto", "direct", "winograd4")),
    (3, 32, 3, 2, 1, 1, (1, 3, 33, 31), ("auto", "direct")),           # RGB stem: no packing
    (12, 18, 3, 2, 1, 3, (1, 12, 13, 13), ("auto", "direct")),         # grouped, strided
    (32, 32, 3, 1, 1, 32, (1, 32, 9, 9), ("auto", "direct")),          # depthwise
    (24, 40, 1, 1, 0, 1, (3, 24, 7, 7), ("auto", "direct", "im2col")),  # 1x1
    (5, 7, 1, 1, 0, 1, (1, 5, 1, 1), ("auto", "direct")),
]


@pytest.mark.parametrize("cin, cout, k, stride, padding, groups, x_shape, algos", LAYERS)
@pytest.mark.parametrize("activation, residual", [("relu", True), ("relu6", False),
                                                  ("silu", True), (None, False)])
def test_from_torch_with_batch_norm(cin, cout, k, stride, padding, groups, x_shape, algos,
                                    activation, residual, rng):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(cin, cout, k, stride, padding, groups=groups, bias=False)
    bn = _batch_norm(cout, 1)
    x = rng.standard_normal(x_shape).astype(np.float32)
    expected_shape = _reference(conv, None, None, x, None).shape
    r = rng.standard_normal(expected_shape).astype(np.float32) if residual else None
    expected = _reference(conv, bn, activation, x, r)
    for algo in algos:
        layer = Conv2d.from_torch(conv.float(), bn.float(), activation, algo=algo)
        actual = layer(x, r)
        testing.assert_close(actual, expected, "float32",
                             cin // groups * k * k * (1 if algo in ("direct", "auto") else 100))
        again = layer(x, r, out=np.empty_like(actual))
        np.testing.assert_array_equal(again, actual)


def test_weight_is_prepared_once(rng, monkeypatch):
    """A direct layer on a CPU packs its weight at the first call of a shape, never again,
    and the kernel has no packing stage; Winograd transforms its filter once."""
    from tvmprims.ops import conv2d as conv2d_op
    calls = []
    real = conv2d_op.pack_weight
    monkeypatch.setattr(conv2d_op, "pack_weight", lambda *a: calls.append(1) or real(*a))
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    layer = Conv2d(w, padding=1, algo="direct")
    for shape in [(1, 16, 12, 12)] * 3 + [(2, 16, 12, 12)]:
        x = rng.standard_normal(shape).astype(np.float32)
        testing.assert_close(layer(x), testing.conv2d_ref(x, w, padding=1), "float32", 144)
    assert len(calls) == 1
    kernel = layer._plan((1, 16, 12, 12), False, "direct")[0]
    assert kernel.workload.get("weight_block") and "W_global" not in kernel.script()
    wino = Conv2d(w, padding=1, algo="winograd4")
    x = rng.standard_normal((1, 16, 12, 12)).astype(np.float32)
    testing.assert_close(wino(x), testing.conv2d_ref(x, w, padding=1), "float32", 144 * 100)
    kernel = wino._plan(x.shape, False, "winograd4")[0]
    assert kernel.workload["pretransformed"]


def test_weights_are_copied(rng):
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    layer = Conv2d(w, padding=1)
    x = rng.standard_normal((1, 4, 6, 6)).astype(np.float32)
    before = layer(x)
    w[...] = 0
    np.testing.assert_array_equal(layer(x), before)


def test_non_finite_inputs_propagate_as_in_torch(rng):
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    x = rng.standard_normal((1, 16, 12, 12)).astype(np.float32)
    x[0, 3, 5, 5] = np.nan
    expected = testing.conv2d_ref(x, w, padding=1)
    for algo in ("direct", "winograd4", "fft"):
        out = Conv2d(w, padding=1, algo=algo)(x)
        np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))


def test_fold_batch_norm_matches_torch(rng):
    bn = _batch_norm(6, 3)
    w = rng.standard_normal((6, 2, 3, 3))
    b = rng.standard_normal(6)
    fw, fb = fold_batch_norm(w, b, bn.running_mean.numpy(), bn.running_var.numpy(),
                             bn.weight.detach().numpy(), bn.bias.detach().numpy(), bn.eps)
    x = rng.standard_normal((1, 2, 5, 5))
    conv = torch.nn.functional.conv2d
    with torch.no_grad():
        expected = bn(conv(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)))
    np.testing.assert_allclose(conv(torch.from_numpy(x), torch.from_numpy(fw),
                                    torch.from_numpy(fb)).numpy(), expected.numpy(), rtol=1e-10,
                               atol=1e-10)


@pytest.mark.parametrize("make, match", [
    (lambda: Conv2d(np.zeros((4, 4, 3), np.float32)), "4-D"),
    (lambda: Conv2d(np.zeros((4, 4, 3, 3), np.float32), groups=3), "groups"),
    (lambda: Conv2d(np.zeros((4, 4, 3, 3), np.float32), activation="tanh"), "activation"),
    (lambda: Conv2d(np.zeros((4, 4, 3, 3), np.int32)), "dtype"),
    (lambda: Conv2d.from_torch(torch.nn.Conv2d(2, 2, 3, padding_mode="reflect")), "padding_mode"),
])
def test_bad_layers_are_refused(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_bad_inputs_are_refused(rng):
    layer = Conv2d(rng.standard_normal((8, 4, 3, 3)).astype(np.float32), padding=1)
    with pytest.raises(ValueError, match="expected input"):
        layer(np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(TypeError, match="mixed dtypes"):
        layer(np.zeros((1, 4, 8, 8), np.float64))
    with pytest.raises(ValueError, match="argument 2"):
        layer(np.zeros((1, 4, 8, 8), np.float32), residual=np.zeros((1, 8, 8, 7), np.float32))
    with pytest.raises(ValueError, match="smaller|larger|kernel|size"):
        layer(np.zeros((1, 4, 1, 1), np.float32)[:, :, :, :0])
