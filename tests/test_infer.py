"""tvmprims infer: whole torchvision models end to end against torch (small images, so the
test is quick; no time thresholds)."""

import csv

import numpy as np
import pytest

from tvmprims import cli, infer
from tvmprims.graph import Graph


@pytest.fixture(autouse=True)
def short_settle(monkeypatch):
    monkeypatch.setattr(infer, "SETTLE_SECONDS", 0.01)


def _rows(out):
    with open(out / "infer.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_resnet18_end_to_end(tmp_path, capsys):
    assert cli.main(["infer", "--model", "resnet18", "--batch", "1,2", "--image", "32",
                     "--rounds", "1", "--out", str(tmp_path)]) == 0
    rows = _rows(tmp_path)
    assert [(r["model"], r["batch"], r["status"]) for r in rows] == [
        ("resnet18", "1", "ok"), ("resnet18", "2", "ok")]
    assert all(float(r["rel_error"]) <= infer.TOLERANCE and float(r["tvmprims_ms"]) > 0
               and float(r["torch_ms"]) > 0 for r in rows)
    assert (tmp_path / "infer.png").stat().st_size > 0
    assert "geometric mean" in capsys.readouterr().out


@pytest.mark.cuda
def test_resnet18_end_to_end_on_cuda(tmp_path):
    assert cli.main(["infer", "--model", "resnet18", "--batch", "1", "--image", "32",
                     "--rounds", "1", "--target", "cuda", "--out", str(tmp_path)]) == 0
    (row,) = _rows(tmp_path)
    assert row["status"] == "ok" and float(row["rel_error"]) <= infer.TOLERANCE


def test_refused_model_names_the_node(tmp_path, capsys):
    assert cli.main(["infer", "--model", "shufflenet_v2_x1_0", "--batch", "1",
                     "--out", str(tmp_path)]) == 0
    (row,) = _rows(tmp_path)
    assert row["status"].startswith("refused: cannot import node") and "size" in row["status"]


def test_a_wrong_output_fails_the_command(tmp_path, monkeypatch):
    real = Graph.__call__
    monkeypatch.setattr(Graph, "__call__", lambda self, x: real(self, x) * np.float32(1.01))
    assert cli.main(["infer", "--model", "squeezenet1_1", "--batch", "1", "--image", "48",
                     "--rounds", "1", "--out", str(tmp_path)]) == 1
    assert _rows(tmp_path)[0]["status"] == "WRONG"


def test_unknown_model(capsys):
    assert cli.main(["infer", "--model", "resnet19"]) == 2
    assert "unknown model" in capsys.readouterr().err
