"""The MNIST study (tvmprims mnist): real training, TVM forward against torch, small sweep."""

import csv

import numpy as np
import pytest

from tvmprims import cli
from tvmprims.nn import Sequential
from tvmprims.studies import mnist
from tvmprims.datasets import FASHION_MNIST_ROOT, load_mnist

pytestmark = pytest.mark.skipif(
    not __import__("pathlib").Path(FASHION_MNIST_ROOT, "t10k-labels-idx1-ubyte.gz").exists(),
    reason="Debian's dataset-fashion-mnist is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def data():
    (xtr, ytr), (xte, yte) = (load_mnist(split=s) for s in ("train", "test"))
    return mnist.prepare(xtr), ytr, mnist.prepare(xte), yte


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """One real epoch of training (about 10 s), saved as a checkpoint."""
    x, y, _, _ = data
    model = mnist.train(x, y, epochs=1, seed=0, report=None)
    path = tmp_path_factory.mktemp("mnist") / "mlp.pt"
    import torch
    torch.save(model.state_dict(), path)
    return model, path


def test_one_epoch_reaches_80_percent(data, trained):
    _, _, xte, yte = data
    model, _ = trained
    assert mnist.accuracy(mnist.torch_forward(model), xte, yte) > 0.80


@pytest.mark.parametrize("ranks", [(None, None, None), (64, 32, None), (16, 8, 5)])
def test_tvm_forward_equals_torch(data, trained, ranks):
    _, _, xte, _ = data
    model, _ = trained
    tmodel = mnist.torch_lowrank(model, ranks)
    net = Sequential.from_torch(tmodel)
    for batch in (1, 1000):
        expected = mnist.torch_forward(tmodel)(xte[:batch])
        np.testing.assert_allclose(net(xte[:batch]), expected, atol=1e-4, rtol=0)


def test_finetuning_changes_only_the_factors_and_keeps_accuracy(data, trained):
    x, y, xte, yte = data
    model, _ = trained
    tmodel = mnist.torch_lowrank(model, (16, 16, None))
    before = mnist.accuracy(mnist.torch_forward(tmodel), xte, yte)
    mnist.finetune(tmodel.train(), x, y, steps=50)
    after = mnist.accuracy(mnist.torch_forward(tmodel.eval()), xte, yte)
    assert after > before - 0.01
    net = Sequential.from_torch(tmodel)
    np.testing.assert_allclose(net(xte[:64]), mnist.torch_forward(tmodel)(xte[:64]), atol=1e-4)


def test_sweep_command(trained, tmp_path):
    _, checkpoint = trained
    assert cli.main(["mnist", "--quick", "--checkpoint", str(checkpoint), "--out",
                     str(tmp_path)]) == 0
    assert (tmp_path / "mnist.png").stat().st_size > 10_000
    with open(tmp_path / "mnist.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(mnist.rank_grid(quick=True))
    full = rows[0]
    assert float(full["compression"]) == 1.0 and float(full["accuracy"]) > 0.8
    assert full["dataset"] == "fashion-mnist"
    for row in rows:
        assert abs(float(row["accuracy"]) - float(row["torch_accuracy"])) < 0.002
        assert float(row["tvm_b1000_ms"]) > 0 and float(row["tvm_b1_us"]) > 0
    assert float(rows[2]["compression"]) > float(rows[1]["compression"]) > 1


def test_pareto_front():
    points = [(1.0, 0.5), (2.0, 0.9), (1.5, 0.4), (3.0, 0.95), (2.5, 0.9)]
    assert mnist.pareto_front(points) == [0, 1, 3]
