"""tvmprims.graph: torch models imported with torch.fx onto tvmprims kernels, against torch;
every layer kind, the fusions, refusals naming the node, and torchvision models."""

import copy
import multiprocessing
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from tvmprims.graph import Graph, UnsupportedNode
from tvmprims.infer import randomize_batch_norm
from tvmprims.nn import Sequential

slow = pytest.mark.slow


def _check(model, x_shape, rng, tol=1e-4, dtype=np.float32, **kw):
    """Import ``model`` (random batch norm statistics), run both, compare; the graph."""
    torch.manual_seed(0)
    model = randomize_batch_norm(model.eval(), seed=1)
    graph = Graph.from_torch(model, **kw)
    x = rng.standard_normal(x_shape).astype(dtype)
    with torch.inference_mode():
        expected = model(torch.from_numpy(x)).double().numpy()
    for _ in range(2):  # the second call reuses every kernel and buffer
        actual = graph(x)
        scale = max(1.0, float(np.abs(expected).max()))
        assert actual.shape == expected.shape
        assert float(np.abs(actual - expected).max()) / scale <= tol
    return graph


class Residual(nn.Module):
    """A ResNet basic block with a strided, projected shortcut, and a MobileNetV2-style
    inverted residual (no activation after the add)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(8, 16, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(16, 16, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.down = nn.Sequential(nn.Conv2d(8, 16, 1, 2, bias=False), nn.BatchNorm2d(16))
        self.expand = nn.Sequential(nn.Conv2d(16, 48, 1, bias=False), nn.BatchNorm2d(48),
                                    nn.ReLU6())
        self.dw = nn.Sequential(nn.Conv2d(48, 48, 3, 1, 1, groups=48, bias=False),
                                nn.BatchNorm2d(48), nn.ReLU6())
        self.project = nn.Sequential(nn.Conv2d(48, 16, 1, bias=False), nn.BatchNorm2d(16))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.down(x)
        out = self.relu(out)
        return out + self.project(self.dw(self.expand(out)))


class Dense(nn.Module):
    """DenseNet-style pre-activation (batch norm and ReLU before the convolution),
    concatenation, SiLU on its own, a spatial mean and a classifier."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 1, 1)
        self.bn = nn.BatchNorm2d(8)
        self.conv = nn.Conv2d(8, 4, 3, 1, 1)
        self.pool = nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False)
        self.fc = nn.Linear(12, 5)

    def forward(self, x):
        x = self.stem(x)
        y = self.conv(torch.relu(self.bn(x)))
        z = torch.cat([x, y], 1)
        pooled = self.pool(z)
        z = nn.functional.silu(pooled + pooled)
        return self.fc(z.mean([2, 3]))


class SqueezeExcite(nn.Module):
    """MobileNetV3 / EfficientNet blocks: hardswish, a squeeze-and-excitation multiply,
    stochastic depth on the shortcut."""

    def __init__(self):
        super().__init__()
        from torchvision.ops import SqueezeExcitation, StochasticDepth
        self.expand = nn.Sequential(nn.Conv2d(8, 24, 1, bias=False), nn.BatchNorm2d(24),
                                    nn.Hardswish())
        self.se = SqueezeExcitation(24, 8, scale_activation=nn.Hardsigmoid)
        self.se2 = SqueezeExcitation(24, 6)  # sigmoid
        self.project = nn.Sequential(nn.Conv2d(24, 8, 1, bias=False), nn.BatchNorm2d(8))
        self.drop = StochasticDepth(0.2, "row")

    def forward(self, x):
        return x + self.drop(self.project(self.se2(self.se(self.expand(x)))))


def test_squeeze_excitation_and_stochastic_depth(rng):
    graph = _check(SqueezeExcite(), (2, 8, 9, 7), rng)
    kinds = [kind for _, kind, _ in graph.summary()]
    assert kinds.count("scale_channels") == 2 and "add" not in kinds
    fused = [f for _, _, f in graph.summary()]
    assert "conv2d+hardsigmoid" in fused and "conv2d+sigmoid" in fused
    assert "conv2d+batch_norm+hardswish" in fused and "conv2d+batch_norm+add" in fused


def test_residual_blocks_fuse_batch_norm_add_and_activation(rng):
    graph = _check(Residual(), (2, 8, 15, 17), rng)
    fused = [f for _, kind, f in graph.summary() if kind == "conv2d"]
    assert "conv2d+batch_norm+add+relu" in fused      # the basic block's second conv
    assert "conv2d+batch_norm+add" in fused           # the inverted residual's projection
    assert "conv2d+batch_norm+relu6" in fused
    assert len(graph.steps) == 6                      # 7 convolutions, one step each, but ...
    # ... the shortcut is its own step only once: conv1, conv2 (+add+relu), down, expand,
    # depthwise, project (+add)


def test_sequential_cnn_with_every_pooling(rng):
    model = nn.Sequential(
        nn.Conv2d(3, 16, 5, 2, 2), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(3, 2, 1, ceil_mode=True),
        nn.Conv2d(16, 16, 3, padding=1, groups=4), nn.ReLU6(),
        nn.AvgPool2d(3, 1, 1),
        nn.Conv2d(16, 24, 1), nn.SiLU(),
        nn.AdaptiveAvgPool2d((3, 2)), nn.Flatten(), nn.Dropout(0.5),
        nn.Linear(24 * 6, 32), nn.Hardswish(), nn.Linear(32, 7))
    graph = _check(model, (3, 3, 37, 29), rng)
    assert [kind for _, kind, _ in graph.summary()] == [
        "conv2d", "max_pool2d", "conv2d", "avg_pool2d", "conv2d", "adaptive_avg_pool2d",
        "flatten", "dense", "hardswish", "dense"]
    layers = Sequential.from_torch(randomize_batch_norm(model.eval(), 1))
    x = rng.standard_normal((1, 3, 37, 29)).astype(np.float32)
    with torch.inference_mode():
        np.testing.assert_allclose(layers(x), model(torch.from_numpy(x)).numpy(), rtol=1e-4,
                                   atol=1e-4)


def test_preactivation_concat_and_elementwise(rng):
    graph = _check(Dense(), (2, 3, 9, 11), rng)
    kinds = [kind for _, kind, _ in graph.summary()]
    assert "batch_norm" in kinds and "concat" in kinds and "silu" in kinds and "add" in kinds


def test_float64_models(rng):
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                          nn.Linear(8 * 5 * 5, 4)).double()
    assert _check(model, (2, 3, 7, 7), rng, tol=1e-10, dtype=np.float64)


@pytest.mark.parametrize("module, match", [
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.GELU()), r"node '_1' \(GELU module 1\)"),
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.Tanh()), "Tanh"),
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.PixelShuffle(2)), "PixelShuffle"),
])
def test_unsupported_nodes_are_named(module, match):
    with pytest.raises(UnsupportedNode, match=match):
        Graph.from_torch(module.eval())


def test_training_mode_is_refused():
    with pytest.raises(ValueError, match="eval mode"):
        Graph.from_torch(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)))


def test_wrong_input_is_a_clear_error(rng):
    graph = Graph.from_torch(nn.Sequential(nn.Conv2d(3, 4, 3)).eval())
    with pytest.raises(ValueError, match="expected input"):
        graph(np.zeros((1, 5, 8, 8), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        graph(np.zeros((1, 3, 8, 8), np.int64))


def test_torchvision_model_refusals_name_the_node():
    from tvmprims.roofline.models import build_model
    with pytest.raises(UnsupportedNode, match="call_method size"):
        Graph.from_torch(build_model("shufflenet_v2_x1_0"))


@slow
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_torchvision_models(name, rng):
    """Whole torchvision networks (random weights and batch-norm statistics) at a small image
    size, against torch in float32."""
    from tvmprims.roofline.models import build_model
    _check(build_model(name), (2, 3, 64, 64), rng, tol=1e-3)


def test_outputs_are_not_overwritten_by_later_calls(rng):
    """Layers reuse their buffers from call to call; what a call returned stays as it was,
    also when the output is a view (flatten) of a layer's buffer, and on other threads."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten()).eval()
    graph = Graph.from_torch(model)
    xs = [rng.standard_normal((2, 3, 6, 6)).astype(np.float32) for _ in range(3)]
    outs = [graph(x) for x in xs]
    with torch.inference_mode():
        for x, out in zip(xs, outs):
            np.testing.assert_allclose(out, model(torch.from_numpy(x)).numpy(), rtol=1e-5,
                                       atol=1e-5)
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(graph, xs * 8))
    for x, out in zip(xs * 8, results):
        np.testing.assert_array_equal(out, graph(x))


def _every_pooling():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
        nn.Conv2d(8, 8, 3, padding=1, groups=4), nn.AvgPool2d(3, 1, 1),
        nn.AdaptiveAvgPool2d((3, 2)), nn.Flatten(), nn.Linear(8 * 6, 5))


@pytest.mark.parametrize("make, x_shape", [
    (Residual, (2, 8, 15, 17)), (Dense, (2, 3, 9, 11)), (SqueezeExcite, (2, 8, 9, 7)),
    (_every_pooling, (2, 3, 19, 17))])
def test_models_pickle_and_deep_copy(rng, make, x_shape):
    """A Graph and a Sequential pickle (as workers of a spawned pool receive them) and
    deep-copy, and the copies compute exactly what the original does. Steps held closures,
    layers a lock and TVM modules: none of them pickled."""
    graph = _check(make(), x_shape, rng)
    x = rng.standard_normal(x_shape).astype(np.float32)
    expected = graph(x)
    for twin in (pickle.loads(pickle.dumps(graph)), copy.deepcopy(graph)):
        np.testing.assert_array_equal(twin(x), expected)
        np.testing.assert_array_equal(twin(x), expected)  # its buffers reused
    np.testing.assert_array_equal(graph(x), expected)
    if make is _every_pooling:
        layers = Sequential.from_torch(randomize_batch_norm(make().eval(), 1))
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(layers))(x), layers(x))


def test_a_model_runs_in_spawned_workers(rng):
    """``multiprocessing`` with the ``spawn`` start method (for workers whose kernels use
    several threads: forked ones run on one) pickles the model into every worker."""
    graph = _check(Residual(), (1, 8, 15, 17), rng)
    xs = [rng.standard_normal((1, 8, 15, 17)).astype(np.float32) for _ in range(4)]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        outs = pool.map(graph, xs)
    for x, out in zip(xs, outs):
        np.testing.assert_array_equal(out, graph(x))


def test_every_step_uses_the_graphs_schedule(rng, monkeypatch):
    """``schedule`` (and ``target``) given to ``from_torch`` reach every step's kernels; the
    squeeze-and-excitation multiply ran with the defaults."""
    from tvmprims import api
    seen = []
    for name in ("scale_channels", "add", "adaptive_avg_pool2d"):
        real = getattr(api, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            seen.append((_name, kwargs.get("schedule")))
            return _real(*args, **kwargs)
        monkeypatch.setattr(api, name, spy)
    graph = Graph.from_torch(SqueezeExcite().eval(), schedule="hand")
    graph(rng.standard_normal((1, 8, 9, 7)).astype(np.float32))
    assert {name for name, _ in seen} >= {"scale_channels", "adaptive_avg_pool2d"}
    assert all(schedule == "hand" for _, schedule in seen), seen
