"""schedule="auto" with a record measured on another, compatible CPU: timed against the hand
schedule once, the faster kept and remembered (tvmprims.schedule_choice)."""

import json
import sys

import numpy as np
import pytest

import tvmprims as tp
from tvmprims import schedule_choice
from tvmprims.kernel import Kernel
from tvmprims.testing import assert_close, matmul_ref
from cpu_targets import ZNVER3_2C, cpu_target, require_runs_here

SHAPES = ((256, 256), (256, 256))  # the shipped znver3-2c log has a record for it


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
    kernel = tp.build("matmul", *SHAPES, target=target)
    (entry,) = json.loads(fresh.read_text()).values()
    assert entry["schedule"] == kernel.schedule in ("tuned", "hand")
    faster = min(("tuned", "hand"), key=lambda s: entry[f"{s}_seconds"])
    assert entry["schedule"] == faster and entry["log"].endswith("llvm-znver3-2c")
    a, b = (rng.standard_normal(s).astype(np.float32) for s in SHAPES)
    assert_close(kernel(a, b), matmul_ref(a, b), "float32", 256)

    # Remembered: a new process (here: emptied in-memory state) does not time again.
    tp.clear_cache()
    schedule_choice.forget()
    monkeypatch.setattr(Kernel, "time", lambda *a, **k: pytest.fail("timed again"))
    assert tp.build("matmul", *SHAPES, target=target).schedule == entry["schedule"]
    # schedule="tuned" takes the record as asked, without timing.
    assert tp.build("matmul", *SHAPES, target=target, schedule="tuned").schedule == "tuned"


def test_records_of_the_target_itself_are_not_timed(fresh, monkeypatch):
    monkeypatch.setattr(Kernel, "time", lambda *a, **k: pytest.fail("timed"))
    assert tp.build("matmul", *SHAPES, target=ZNVER3_2C).schedule == "tuned"
    assert not fresh.exists()


def test_an_invalid_remembered_choice_is_measured_again(fresh):
    require_runs_here(ZNVER3_2C)
    target = cpu_target("znver3", cores=1)
    tp.build("matmul", *SHAPES, target=target)
    entries = json.loads(fresh.read_text())
    (key,) = entries
    fresh.write_text(json.dumps({key: {"schedule": "bogus"}}))
    schedule_choice.forget()
    tp.clear_cache()
    with pytest.warns(UserWarning, match="ignoring invalid entry of schedule choices"):
        tp.build("matmul", *SHAPES, target=target)
    assert json.loads(fresh.read_text())[key]["schedule"] in ("tuned", "hand")
