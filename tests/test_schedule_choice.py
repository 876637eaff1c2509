"""schedule="auto" with a record measured on another, compatible CPU: timed against the hand
schedule once, the faster kept and remembered (tvmprims.schedule_choice)."""

import json
import sys

import numpy as np
import pytest

import tvmprims as tp
from tvmprims import schedule_choice
from tvmprims.kernel import Kernel
from tvmprims.testing import assert_close, depthwise_conv2d_ref
from cpu_targets import ZNVER3_2C, cpu_target, require_runs_here

# The shipped znver3-2c log's best record for this layer is a tuned one (not the hand
# schedule's, which is not timed: see the last test).
SHAPES, PARAMS = ((1, 144, 56, 56), (144, 1, 3, 3)), dict(stride=2, padding=1)


def _build(target, **kwargs):
    return tp.build("depthwise_conv2d", *SHAPES, target=target, **PARAMS, **kwargs)


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    monkeypatch.setenv(schedule_choice.ENV, str(tmp_path / "choices.json"))
    schedule_choice.forget()
    tp.clear_cache()
    yield tmp_path / "choices.json"
    schedule_choice.forget()
    tp.clear_cache()


def test_a_compatible_record_is_timed_against_hand_once(fresh, monkeypatch, rng):
    require_runs_here(ZNVER3_2C)
    target = cpu_target("znver3", cores=1)  # another key, compatible with llvm-znver3-2c
    kernel = _build(target)
    (entry,) = json.loads(fresh.read_text()).values()
    assert entry["schedule"] == kernel.schedule in ("tuned", "hand")
    faster = min(("tuned", "hand"), key=lambda s: entry[f"{s}_seconds"])
    assert entry["schedule"] == faster and entry["log"].endswith("llvm-znver3-2c")
    x, w = (rng.standard_normal(s).astype(np.float32) for s in SHAPES)
    assert_close(kernel(x, w), depthwise_conv2d_ref(x, w, **PARAMS), "float32", 9)

    # Remembered: a new process (here: emptied in-memory state) does not time again.
    tp.clear_cache()
    schedule_choice.forget()
    monkeypatch.setattr(Kernel, "time", lambda *a, **k: pytest.fail("timed again"))
    assert _build(target).schedule == entry["schedule"]
    # schedule="tuned" takes the record as asked, without timing.
    assert _build(target, schedule="tuned").schedule == "tuned"


def test_records_of_the_target_itself_are_not_timed(fresh, monkeypatch):
    monkeypatch.setattr(Kernel, "time", lambda *a, **k: pytest.fail("timed"))
    assert _build(ZNVER3_2C).schedule == "tuned"
    assert not fresh.exists()


def test_a_changed_hand_schedule_is_timed_again(fresh, monkeypatch):
    """The remembered verdict is keyed by tvmprims' source too: after an upgrade (another
    source fingerprint) the record is timed against today's hand schedule again."""
    require_runs_here(ZNVER3_2C)
    monkeypatch.setenv("TVMPRIMS_KERNEL_CACHE", "off")
    target = cpu_target("znver3", cores=1)
    _build(target)
    (old_key,) = json.loads(fresh.read_text())
    tp.clear_cache()
    schedule_choice.forget()
    monkeypatch.setattr(schedule_choice, "source_fingerprint", lambda: "f" * 64)
    _build(target)
    keys = set(json.loads(fresh.read_text()))
    assert old_key in keys and len(keys) == 2


def test_an_invalid_remembered_choice_is_measured_again(fresh):
    require_runs_here(ZNVER3_2C)
    target = cpu_target("znver3", cores=1)
    _build(target)
    entries = json.loads(fresh.read_text())
    (key,) = entries
    fresh.write_text(json.dumps({key: {"schedule": "bogus"}}))
    schedule_choice.forget()
    tp.clear_cache()
    with pytest.warns(UserWarning, match="ignoring invalid entry of schedule choices"):
        _build(target)
    assert json.loads(fresh.read_text())[key]["schedule"] in ("tuned", "hand")


def test_a_compatible_hand_record_is_not_timed(fresh, monkeypatch):
    """A best record that stands for the hand schedule (the shipped znver3-2c log's for
    256^3 matmul) needs no comparison: it is the hand schedule, today's."""
    monkeypatch.setattr(Kernel, "time", lambda *a, **k: pytest.fail("timed"))
    kernel = tp.build("matmul", (256, 256), (256, 256), target=cpu_target("znver3", cores=1))
    assert kernel.script() == tp.build("matmul", (256, 256), (256, 256),
                                       target=cpu_target("znver3", cores=1),
                                       schedule="hand").script()
    assert not fresh.exists()
