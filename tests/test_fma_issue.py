"""The measured FMA issue width (``tvmprims/roofline/fma_issue.py``): the ratio's rounding, the
environment override, the on-disk cache, and a real measurement on this host."""

import pytest

from tvmprims import algorithm_heuristic as heuristic
from tvmprims.roofline import fma_issue as fi
from tvmprims.schedules.hardware import cpu_model, default_fma_issue, is_host_cpu
from tvmprims.target import resolve_target
from cpu_targets import cpu_target


@pytest.mark.parametrize("ratio, issue", [(3.9, 1), (4.2, 1), (5.9, 1), (6.1, 2), (7.9, 2),
                                          (0.5, 1), (16.3, 4), (40.0, 4)])
def test_issue_is_the_ratio_over_the_latency(ratio, issue):
    """Zen 4's 512-bit FMAs: one chain at a fourth of the full rate (one a cycle); an Intel
    Xeon's: at an eighth (two a cycle)."""
    assert fi.issue_from_ratio(ratio) == issue


@pytest.mark.parametrize("ratio", [0.0, -1.0, float("nan"), float("inf")])
def test_a_ratio_that_is_no_measurement_is_an_error(ratio):
    with pytest.raises(ValueError, match="FMA rate ratio"):
        fi.issue_from_ratio(ratio)


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """An empty peaks cache and memory; ``calls`` counts the measurements (ratio 7.9)."""
    monkeypatch.setenv("TVMPRIMS_PEAKS_CACHE", str(tmp_path / "peaks.json"))
    monkeypatch.delenv(fi.ENV, raising=False)
    monkeypatch.setattr(fi, "_memory", {})
    calls = []

    def measure(target, lanes, tries=3):
        calls.append(lanes)
        return 7.9

    monkeypatch.setattr(fi, "measure_fma_ratio", measure)
    return tmp_path / "peaks.json", calls


HOST = resolve_target("llvm")


def test_measured_once_then_read_from_the_cache_file(fresh, monkeypatch):
    path, calls = fresh
    assert fi.fma_issue(HOST) == 2 and calls == [cpu_model(HOST).lanes("float32")]
    assert fi.fma_issue(HOST) == 2 and len(calls) == 1  # memory
    monkeypatch.setattr(fi, "_memory", {})  # a new process
    assert fi.fma_issue(HOST) == 2 and len(calls) == 1  # the file
    assert "fma-issue" in path.read_text()


def test_other_targets_get_their_isa_default_unmeasured(fresh):
    """A cross-compile is not this CPU: Zen 4's one 512-bit FMA a cycle for AVX-512, two
    elsewhere, and nothing measured."""
    _, calls = fresh
    others = [t for t in (cpu_target("znver4"), cpu_target("skylake-avx512"),
                          cpu_target("znver3"), cpu_target("neoverse-n1", "aarch64-linux-gnu"))
              if not is_host_cpu(t)]
    for target in others:
        assert fi.fma_issue(target) == (1 if cpu_model(target).isa == "avx512" else 2)
    assert len(others) >= 3 and not calls


@pytest.mark.parametrize("entry", ['"two"', "0", "9", "2.5", "true"])
def test_a_corrupt_cache_entry_is_measured_again(fresh, monkeypatch, entry):
    path, calls = fresh
    fi.fma_issue(HOST)
    text = path.read_text()
    key = next(line for line in text.splitlines() if "fma-issue" in line).split('":')[0]
    path.write_text(text.replace(f'{key}": 2', f'{key}": {entry}'))
    monkeypatch.setattr(fi, "_memory", {})
    with pytest.warns(UserWarning, match="invalid entry"):
        assert fi.fma_issue(HOST) == 2
    assert len(calls) == 2


def test_the_environment_sets_it_without_measuring(fresh, monkeypatch):
    _, calls = fresh
    monkeypatch.setenv(fi.ENV, "1")
    assert fi.fma_issue(HOST) == 1 and fi.fma_issue(cpu_target("znver3")) == 1 and not calls
    for bad in ("two", "0", "5"):
        monkeypatch.setenv(fi.ENV, bad)
        with pytest.raises(ValueError, match=fi.ENV):
            fi.fma_issue(HOST)


def test_a_failed_measurement_warns_and_uses_the_isa_default(fresh, monkeypatch):
    def broken(target, lanes, tries=3):
        raise RuntimeError("no compiler")

    monkeypatch.setattr(fi, "measure_fma_ratio", broken)
    with pytest.warns(UserWarning, match="could not measure.*no compiler"):
        assert fi.fma_issue(HOST) == default_fma_issue(cpu_model(HOST).isa)
    assert "fma-issue" not in (path.read_text() if (path := fresh[0]).exists() else "")


def test_this_host_is_measured_and_gets_the_rules_of_its_issue_width():
    """A real measurement: one chain runs at a latency-bound fraction of ten chains' rate
    (latency 4 to 5 cycles, 1 to 4 FMAs a cycle); the host's algorithm rules follow it."""
    model = cpu_model(HOST)
    ratio = fi.measure_fma_ratio(HOST, model.lanes("float32"), tries=1)
    assert 2.5 < ratio < 20, ratio
    issue = fi.fma_issue(HOST)
    assert 1 <= issue <= fi.MAX_ISSUE
    own = heuristic.MODELS.get(f"cpu-{model.isa}-{issue}fma")
    assert heuristic.rules_for(HOST) is (
        own or heuristic.MODELS.get(f"cpu-{model.isa}", heuristic.CPU_RULES))


_CONCURRENT = """
import tvmprims.roofline.fma_issue as f
from tvmprims.target import resolve_target
measure, calls = f.measure_fma_ratio, []
f.measure_fma_ratio = lambda *a, **k: calls.append(1) or measure(*a, **k)
print(f.fma_issue(resolve_target("llvm")), len(calls))
"""


def test_processes_that_start_together_measure_once(tmp_path):
    """Two processes on an empty cache: one measures while the other waits for its result
    (a real measurement)."""
    import os
    import subprocess
    import sys
    env = {**os.environ, "TVMPRIMS_PEAKS_CACHE": str(tmp_path / "peaks.json")}
    env.pop(fi.ENV, None)
    procs = [subprocess.Popen([sys.executable, "-c", _CONCURRENT], env=env, text=True,
                              stdout=subprocess.PIPE) for _ in range(2)]
    results = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert results[0][0] == results[1][0]
    assert sorted(int(r[1]) for r in results) == [0, 1]


def test_the_rules_report_names_the_rules_and_why():
    """``tvmprims bench``, ``algos`` and the layer suite print which rules auto applies."""
    line = heuristic.rules_report()
    model = cpu_model(HOST)
    assert line.startswith('conv2d algo="auto" on llvm-') and f"({model.isa}" in line
    if model.isa == "avx512":
        assert f"{fi.fma_issue(HOST)} vector FMA" in line and "measured" in line
    zen4 = cpu_target("znver4")
    if not is_host_cpu(zen4):  # on a Zen 4 host its issue width is measured instead
        assert heuristic.rules_report(zen4).endswith(
            "AVX512_RULES (avx512, 1 vector FMA a cycle, default for another CPU)")
    assert heuristic.rules_report(cpu_target("znver3")).endswith("CPU_RULES (avx2)")
    assert heuristic.rules_report("cuda").endswith("no rules: direct (cuda)")


def test_an_unwritable_cache_still_measures_and_warns(fresh, monkeypatch, tmp_path):
    """A cache path whose directory cannot be made (a file stands in its way): measured
    without the lock, kept in memory, the file's failure a warning."""
    _, calls = fresh
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    monkeypatch.setenv("TVMPRIMS_PEAKS_CACHE", str(blocker / "peaks.json"))
    with pytest.warns(UserWarning):
        assert fi.fma_issue(HOST) == 2
    assert fi.fma_issue(HOST) == 2 and len(calls) == 1
