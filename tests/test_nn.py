"""tvmprims.nn layers against torch (float64 references), full and low rank."""

import numpy as np
import pytest
import torch

from tvmprims import lowrank, nn
from tvmprims.testing import assert_close


def _linear_ref(x, w, b, relu):
    y = x.astype(np.float64) @ w.astype(np.float64).T + (0 if b is None else b)
    return np.maximum(y, 0) if relu else y


@pytest.mark.parametrize("batch, n_in, n_out", [(1, 784, 512), (1000, 784, 512), (7, 13, 5),
                                                (97, 128, 10), (3, 1, 1)])
@pytest.mark.parametrize("bias, relu", [(True, True), (True, False), (False, True),
                                        (False, False)])
def test_dense(rng, batch, n_in, n_out, bias, relu):
    x = rng.standard_normal((batch, n_in)).astype(np.float32)
    w = rng.standard_normal((n_out, n_in)).astype(np.float32)
    b = rng.standard_normal(n_out).astype(np.float32) if bias else None
    assert_close(nn.Dense(w, b, relu)(x), _linear_ref(x, w, b, relu), "float32", n_in)


@pytest.mark.parametrize("batch", [1, 2, 64, 1000])
@pytest.mark.parametrize("rank", [1, 16, 127])
def test_lowrank_dense(rng, batch, rank):
    x = rng.standard_normal((batch, 300)).astype(np.float32)
    w = rng.standard_normal((128, 300)).astype(np.float32)
    b = rng.standard_normal(128).astype(np.float32)
    layer = nn.LowRankDense.from_weight(w, rank, b, relu=True)
    f = layer.factors
    expected = _linear_ref(x, f.left.astype(np.float64) @ f.right, b, True)
    assert_close(layer(x), expected, "float32", 300)
    assert layer.parameters == rank * (128 + 300) + 128


def test_association_follows_the_flop_count(rng):
    w = rng.standard_normal((512, 784)).astype(np.float32)
    assert nn.LowRankDense.from_weight(w, 309).two_products()  # 309 * 1296 < 784 * 512
    high = nn.LowRankDense.from_weight(w, 310)
    assert not high.two_products()
    x = rng.standard_normal((3, 784)).astype(np.float32)
    assert_close(high(x), x.astype(np.float64) @ high.factors.dense().T.astype(np.float64),
                 "float32", 784)
    assert high._dense is not None  # ran on the re-multiplied weight


def _mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 512), torch.nn.ReLU(),
                               torch.nn.Linear(512, 128), torch.nn.ReLU(),
                               torch.nn.Linear(128, 10)).eval()


@pytest.mark.parametrize("ranks", [None, (64, 32, None), (512, 128, 10), (1, 1, 1)])
@pytest.mark.parametrize("batch", [1, 33, 1000])
def test_sequential_from_torch(rng, ranks, batch):
    model = _mlp()
    x = rng.random((batch, 784)).astype(np.float32)
    net = nn.Sequential.from_torch(model, ranks)
    if ranks is None or ranks == (512, 128, 10):  # full rank: the torch model itself
        with torch.no_grad():
            expected = _mlp().double()(torch.from_numpy(x.astype(np.float64))).numpy()
    else:
        h = x.astype(np.float64)
        linears = [m for m in model if isinstance(m, torch.nn.Linear)]
        for i, (layer, rank) in enumerate(zip(linears, ranks)):
            w = layer.weight.detach().numpy().astype(np.float64)
            if rank is not None:
                w = lowrank.factorize(w, rank).dense()
            h = h @ w.T + layer.bias.detach().numpy()
            if i < 2:
                h = np.maximum(h, 0)
        expected = h
    out = net(x)
    assert out.shape == (batch, 10)
    np.testing.assert_allclose(out, expected, atol=1e-4, rtol=0)


def _torch_ref(model, x):
    with torch.no_grad():
        return model.double()(torch.from_numpy(x.astype(np.float64))).numpy()


def _factorised_mlp(first_bias=False, seed=0):
    """A rank-6 factorised Linear (bias-free 20->6, then 6->12), ReLU, Linear 12->5."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(20, 6, bias=first_bias),
                               torch.nn.Linear(6, 12), torch.nn.ReLU(),
                               torch.nn.Linear(12, 5)).eval()


def test_from_torch_factorised_pair_is_one_layer(rng):
    """A bias-free Linear followed by a Linear is one LowRankDense with the pair's own
    weights as factors (no SVD); ranks count it once."""
    model = _factorised_mlp()
    x = rng.random((7, 20)).astype(np.float32)
    for ranks in (None, (None, None), (6, 5), (100, 100)):
        net = nn.Sequential.from_torch(model, ranks)
        assert [type(layer) for layer in net.layers] == [nn.LowRankDense, nn.Dense]
        first = net.layers[0]
        np.testing.assert_array_equal(first.factors.right, model[1].weight.detach().numpy())
        np.testing.assert_array_equal(first.factors.left, model[2].weight.detach().numpy())
        assert first.expand.relu and not net.layers[1].relu
        np.testing.assert_allclose(net(x), _torch_ref(_factorised_mlp(), x), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match=r"3 ranks given for 2 Linear layers"):
        nn.Sequential.from_torch(model, (None, None, None))


def test_from_torch_truncates_a_factorised_pair(rng):
    """A rank below the pair's inner dimension: the truncated SVD of its product."""
    model = _factorised_mlp()
    net = nn.Sequential.from_torch(model, (3, 2))
    left, right = (model[i].weight.detach().numpy() for i in (2, 1))
    f = lowrank.factorize(left @ right, 3)
    assert net.layers[0].rank == 3 and net.layers[1].rank == 2
    np.testing.assert_allclose(net.layers[0].factors.left @ net.layers[0].factors.right,
                               f.left @ f.right, atol=1e-5)
    x = rng.random((4, 20)).astype(np.float32)
    h = np.maximum(x.astype(np.float64) @ (f.left @ f.right).T.astype(np.float64)
                   + model[2].bias.detach().numpy(), 0)
    w3 = lowrank.factorize(model[4].weight.detach().numpy(), 2)
    expected = h @ (w3.left @ w3.right).T.astype(np.float64) + model[4].bias.detach().numpy()
    np.testing.assert_allclose(net(x), expected, atol=1e-4, rtol=0)


def test_from_torch_linear_with_bias_then_linear_stays_two_layers(rng):
    model = _factorised_mlp(first_bias=True)
    net = nn.Sequential.from_torch(model)
    assert [type(layer) for layer in net.layers] == [nn.Dense] * 3
    x = rng.random((3, 20)).astype(np.float32)
    np.testing.assert_allclose(net(x), _torch_ref(_factorised_mlp(first_bias=True), x),
                               atol=1e-5, rtol=0)


def test_from_torch_copies_the_weights(rng):
    """Changing the torch model afterwards (fine-tuning) leaves the converted layers alone."""
    model = _factorised_mlp()
    net = nn.Sequential.from_torch(model)
    x = rng.random((2, 20)).astype(np.float32)
    before = net(x)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    np.testing.assert_array_equal(net(x), before)


def test_bad_input():
    net = nn.Sequential.from_torch(_mlp())
    with pytest.raises(ValueError, match=r"expected input \(batch, 784\), got shape \(2, 783\)"):
        net(np.ones((2, 783), np.float32))
    with pytest.raises(ValueError, match=r"2 ranks given for 3 Linear layers"):
        nn.Sequential.from_torch(_mlp(), ranks=(4, 4))
    with pytest.raises(ValueError, match=r"cannot import node '_1' \(Tanh module 1\)"):
        nn.Sequential.from_torch(torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh()))
    with pytest.raises(ValueError, match=r"cannot convert a ReLU that follows no Linear"):
        nn.Sequential.from_torch(torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(3, 3)))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        nn.Dense(np.ones((4, 3), np.float32), np.ones(3, np.float32))
    with pytest.raises(TypeError, match=r"x has dtype int64"):
        nn.Dense(np.ones((4, 3), np.float32))(np.ones((2, 3), np.int64))


def test_nn_is_reachable_from_a_plain_import():
    """``import tvmprims`` then ``tvmprims.nn.Dense`` (a fresh interpreter: this one has
    imported tvmprims.nn already)."""
    import subprocess
    import sys
    code = ("import tvmprims, sys; assert 'tvmprims.nn' not in sys.modules; "
            "print(tvmprims.nn.Dense.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "Dense"
