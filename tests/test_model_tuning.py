"""Tuning a whole model under one budget (tvmprims.model_tuning, `tvmprims tune --model`):
which layers get the trials, the state that makes a run resumable, interrupts, searches
that fail, manifests, and one real MetaSchedule run whose record the API then uses."""

import json
import subprocess
import sys

import numpy as np
import pytest

import tvmprims
from tvmprims import model_tuning
from tvmprims.build import build_workload
from tvmprims.model_tuning import ModelTuning, format_report, manifest_cases, tune_model
from tvmprims.testing import assert_close
from tvmprims.tuning import TuneResult

# Three layers whose times differ by orders of magnitude; "big" is used twice.
LAYERS = [
    {"name": "big", "op": "conv2d", "shapes": [[1, 32, 28, 28], [32, 32, 3, 3]],
     "params": {"padding": 1}, "uses": 2},
    {"name": "mid", "op": "conv2d", "shapes": [[1, 16, 14, 14], [24, 16, 1, 1]]},
    {"name": "fc", "op": "dense", "shapes": [[1, 16], [16, 10], [10]]},
]


@pytest.fixture
def manifest(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"kernels": LAYERS}))
    return path


class FakeTune:
    """Stands in for tvmprims.tuning.tune: records what it was asked, halves the time."""

    def __init__(self, fail=lambda workload: False, interrupt_at=None,
                 gains=lambda workload: True):
        self.calls, self.fail, self.interrupt_at, self.gains = [], fail, interrupt_at, gains

    def __call__(self, workload, target, trials, log_root, timeout, report, space):
        self.calls.append((workload, trials))
        failed = "ValueError: no space" if self.fail(workload) else None
        interrupted = len(self.calls) == self.interrupt_at
        best = 1e-3 / 1.05 if self.gains(workload) else 1e-3  # 5% gains, or none
        return TuneResult(workload, "llvm", log_root, 0 if failed else trials, 1e-3, best,
                          interrupted, failed)


def _run(manifest, tmp_path, trials, fake, chunk=4):
    lines = []
    result = tune_model(manifest_cases(manifest), "tiny", trials, chunk=chunk,
                        log_root=tmp_path / "logs", rounds=1, report=lines.append, tune=fake)
    return result, lines


def test_the_budget_goes_first_to_the_layers_with_the_most_model_time(manifest, tmp_path):
    fake = FakeTune()
    result, lines = _run(manifest, tmp_path, 12, fake)
    assert sum(n for _, n in fake.calls) == 12 == result.trials_run == result.trials_total
    before = {row["case"]: row["tvmprims_s"] * row["users"] for row in result.before}
    assert fake.calls[0][0] == max(result.tasks, key=lambda t: before[t.case.label]).workload
    assert {t.case.label for t in result.tasks} == {"32x28x28 32x32x3x3", "16x14x14 24x16x1x1",
                                                   "16->10 M=1"}
    top = max(result.tasks, key=lambda t: before[t.case.label])  # what the timings said
    assert top.trials >= 4
    big = next(t for t in result.tasks if t.case.label.startswith("32x28"))
    assert big.uses == 2
    assert any("of the model's time" in line for line in lines)
    assert result.after is not result.before  # timed again after tuning
    text = format_report(result)
    assert "hand schedules" in text and "x torch" in text and "12 trials this run" in text
    assert ModelTuning.total(result.before) > 0


def test_a_second_run_resumes_from_the_state_file(manifest, tmp_path):
    _run(manifest, tmp_path, 8, FakeTune())
    state = json.loads(next((tmp_path / "logs").rglob("tiny-b1.json")).read_text())
    assert sum(entry["trials"] for entry in state.values()) == 8
    again = FakeTune()
    result, lines = _run(manifest, tmp_path, 8, again)  # budget already spent
    assert again.calls == [] and result.trials_run == 0 and result.trials_total == 8
    more = FakeTune()
    result, lines = _run(manifest, tmp_path, 14, more)
    assert sum(n for _, n in more.calls) == 6 and result.trials_total == 14
    assert any("resuming: 8 trials" in line for line in lines)


def test_an_interrupt_keeps_what_was_spent(manifest, tmp_path):
    result, lines = _run(manifest, tmp_path, 40, FakeTune(interrupt_at=2))
    assert result.interrupted and result.trials_total == 8
    assert any("interrupted" in line for line in lines)
    state = json.loads(next((tmp_path / "logs").rglob("tiny-b1.json")).read_text())
    assert sum(entry["trials"] for entry in state.values()) == 8


def test_a_layer_whose_search_fails_gets_no_more_rounds(manifest, tmp_path):
    fake = FakeTune(fail=lambda workload: workload.op != "dense")  # both convolutions
    result, _ = _run(manifest, tmp_path, 20, fake)
    conv_rounds = [w for w, _ in fake.calls if w.op != "dense"]
    assert len(conv_rounds) == 2  # one round each, then never again
    assert all(t.failed for t in result.tasks if t.workload.op != "dense")
    assert all(w.op == "dense" for w, _ in fake.calls[2:]) and len(fake.calls) > 2


def test_a_layer_that_stops_improving_yields_to_the_others(manifest, tmp_path):
    def rounds_of_the_big_layer(fake, run):
        _run(manifest, tmp_path / run, 40, fake)
        return sum(w.shapes[0] == (1, 32, 28, 28) for w, _ in fake.calls)
    gaining = rounds_of_the_big_layer(FakeTune(), "gaining")
    stalled = FakeTune(gains=lambda workload: workload.shapes[0] != (1, 32, 28, 28))
    assert rounds_of_the_big_layer(stalled, "stalled") < gaining
    state = json.loads(next((tmp_path / "stalled").rglob("tiny-b1.json")).read_text())
    assert max(entry["stalls"] for entry in state.values()) >= 2


@pytest.mark.parametrize("entry, match", [
    ({"name": "p", "op": "max_pool2d", "shapes": [[1, 3, 8, 8]], "params": {"kernel_size": 2}},
     "must be a conv2d"),
    ({"name": "c", "op": "conv2d", "shapes": [[1, 3, 8, 8]]}, "c"),
])
def test_bad_manifest_layers_are_named(tmp_path, entry, match):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"kernels": [entry]}))
    with pytest.raises(ValueError, match=match):
        manifest_cases(path)


def test_model_or_manifest_not_both_and_unknown_models():
    with pytest.raises(ValueError, match="not both"):
        model_tuning.model_tuning_cases("resnet18", "x.json")
    with pytest.raises(ValueError, match="unknown model 'resnet19'"):
        model_tuning.model_tuning_cases("resnet19")
    out = subprocess.run([sys.executable, "-m", "tvmprims.cli", "tune", "--model", "resnet19"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "unknown model 'resnet19'" in out.stderr


def test_model_layers_are_the_distinct_layers_with_their_uses():
    name, cases = model_tuning.model_tuning_cases("resnet18")
    assert name == "resnet18" and len(cases) == len({c for c in cases})
    assert sum(len(c.users) for c in cases) == 21  # 20 Conv2d and the fc layer


def test_a_real_run_writes_records_that_the_api_then_uses(tmp_path, monkeypatch, rng):
    """Two layers, 2 real MetaSchedule trials: records land in the log, and the layer's next
    call through the public API runs the tuned kernel, with correct results."""
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"kernels": [LAYERS[1], LAYERS[2]]}))
    monkeypatch.setenv("TVMPRIMS_TUNING_DIR", str(tmp_path / "logs"))
    lines = []
    result = tune_model(manifest_cases(path), "one", 2, chunk=2, log_root=tmp_path / "logs",
                        rounds=1, report=lines.append)
    assert result.trials_total >= 1 and not result.interrupted
    (task,) = [t for t in result.tasks if t.trials]
    state = json.loads(result.state_file.read_text())[task.key]
    assert state["verified"] == task.trials and state["kept"] in ("tuned", "hand")
    assert any("[verify]" in line for line in lines)
    tvmprims.clear_cache()
    assert build_workload(task.workload).schedule == "tuned"
    x = rng.random((1, 16, 14, 14)).astype(np.float32)
    w = rng.random((24, 16, 1, 1)).astype(np.float32)
    reference = np.einsum("nchw,oc->nohw", x.astype(np.float64), w[:, :, 0, 0])
    assert_close(tvmprims.conv2d(x, w), reference, "float32", 16)
    print(format_report(result))


# --- graph mode: the fused kernels `tvmprims infer` runs ---------------------------------------

def _tiny_cnn():
    import torch
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1, bias=False), torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 10)).eval()


def test_graph_mode_tunes_the_fused_kernels_the_graph_runs(tmp_path):
    fake = FakeTune()
    lines = []
    result = model_tuning.tune_graph("tiny", 12, chunk=4, log_root=tmp_path, rounds=1,
                                     report=lines.append, tune=fake, model=_tiny_cnn(),
                                     image=16)
    ops = {t.workload.op for t in result.tasks}
    assert "dense" in ops and ops & {"conv2d", "conv2d_winograd", "conv2d_im2col"}
    convs = [t for t in result.tasks if t.workload.op != "dense"]
    # the fused epilogue (folded BN bias, ReLU) is part of the tuned workload
    assert all(dict(t.workload.params).get("activation") == "relu" for t in convs)
    assert sum(t.uses for t in result.tasks) == 4  # three convolutions and the classifier
    assert sum(n for _, n in fake.calls) == 12 == result.trials_total
    assert result.before.status == "ok" and result.after.status == "ok"
    assert set(result.kernel_after) == {t.workload for t in result.tasks}
    text = model_tuning.format_graph_report(result)
    assert "end to end" in text and "torch" in text
    assert (tmp_path / tvmprims.target_key("llvm") / "model_tuning" / "tiny-b1-graph.json").exists()


def test_graph_mode_cli_needs_a_model():
    out = subprocess.run([sys.executable, "-m", "tvmprims.cli", "tune", "--graph",
                          "--manifest", "x.json"], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "give --model" in out.stderr
