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


def test_bad_input():
    net = nn.Sequential.from_torch(_mlp())
    with pytest.raises(ValueError, match=r"expected input \(batch, 784\), got shape \(2, 783\)"):
        net(np.ones((2, 783), np.float32))
    with pytest.raises(ValueError, match=r"2 ranks given for 3 Linear layers"):
        nn.Sequential.from_torch(_mlp(), ranks=(4, 4))
    with pytest.raises(ValueError, match=r"cannot convert Tanh"):
        nn.Sequential.from_torch(torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh()))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        nn.Dense(np.ones((4, 3), np.float32), np.ones(3, np.float32))
    with pytest.raises(TypeError, match=r"x has dtype int64"):
        nn.Dense(np.ones((4, 3), np.float32))(np.ones((2, 3), np.int64))
