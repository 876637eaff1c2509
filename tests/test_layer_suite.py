"""The layer suite (``tvmprims bench --suite layers``): its case list, a real run on tiny
cases, the flagging of wrong results, the summary statistics and the command (no time
thresholds: only that times are measured, finite and consistent)."""

import csv
import math
import time
from dataclasses import replace

import numpy as np
import pytest

from tvmprims import cli, layer_cases, layer_report, layer_suite
from tvmprims.layer_cases import SuiteCase
from tvmprims.roofline import Peaks


@pytest.fixture(scope="module")
def resnet_mobilenet():
    return layer_cases.model_cases(("resnet18", "mobilenet_v2"))


def test_model_cases_deduplicate_and_remember_users(resnet_mobilenet):
    cases = resnet_mobilenet
    users = [u for c in cases for u in c.users]
    # every Conv2d and Linear call appears once: ResNet-18 has 20 + 1, MobileNetV2 52 + 1
    assert len(users) == len(set(users)) == 21 + 53
    assert len({c.workload for c in cases}) == len(cases)  # no two cases compute the same
    per_model = {m: sum(m in c.models for c in cases) for m in ("resnet18", "mobilenet_v2")}
    assert per_model == {"resnet18": 12, "mobilenet_v2": 31}
    layer1 = next(c for c in cases if c.label == "64x56x56 64x64x3x3")
    assert layer1.category == "conv" and len(layer1.users) == 4
    assert layer1.kwargs()["padding"] == (1, 1, 1, 1)


def test_model_case_categories(resnet_mobilenet):
    by = {}
    for c in resnet_mobilenet:
        by.setdefault(c.category, []).append(c)
    assert set(by) == {"conv", "conv1x1", "strided", "depthwise", "linear"}
    for c in by["depthwise"]:
        assert c.kwargs()["groups"] == c.shapes[0][1] > 1
    assert {c.label for c in by["linear"]} == {"512->1000 M=1", "1280->1000 M=1"}
    stem = next(c for c in by["strided"] if "resnet18/conv1" in c.users)
    assert stem.label == "3x224x224 64x3x7x7 s2"
    assert all(c.shapes[1][2:] == (1, 1) for c in by["conv1x1"])


@pytest.mark.parametrize("x, w, stride, groups, expected", [
    ((1, 64, 8, 8), (64, 64, 3, 3), (1, 1), 1, "conv"),
    ((1, 64, 8, 8), (32, 64, 1, 1), (1, 1), 1, "conv1x1"),
    ((1, 64, 8, 8), (32, 64, 1, 1), (2, 2), 1, "strided"),
    ((1, 3, 8, 8), (32, 3, 3, 3), (1, 1), 1, "strided"),
    ((1, 64, 8, 8), (64, 1, 3, 3), (2, 2), 64, "depthwise"),
    ((1, 64, 8, 8), (64, 16, 3, 3), (1, 1), 4, "grouped"),
])
def test_conv_category(x, w, stride, groups, expected):
    assert layer_cases.conv_category(x, w, stride, groups) == expected


def test_batch_option_makes_batched_cases():
    cases = layer_cases.model_cases(("resnet18",), batch=8)
    assert len(cases) == 12 and all(c.shapes[0][0] == 8 for c in cases)
    assert all(c.label.endswith("n8") for c in cases if c.op == "conv2d")


def test_sweeps_and_filters():
    cases = layer_cases.suite_cases(categories=("gemm", "conv1d", "convolve"))
    assert {c.category for c in cases} == {"gemm", "conv1d", "convolve"}
    gemm = [c.shapes for c in cases if c.category == "gemm"]
    ms, ks, ns = ({s[0][0] for s in gemm}, {s[0][1] for s in gemm}, {s[1][1] for s in gemm})
    assert min(ms) == 1 and max(ms) >= 4096 and min(ks) == 64 and max(ks) == 9216
    assert all(n % 16 for n in ns)  # no N is a multiple of the 16-column register tile
    assert len(layer_cases.select(cases, limit=1)) == 3
    assert layer_cases.select(cases, ("convolve",)) == [c for c in cases
                                                       if c.category == "convolve"]
    with pytest.raises(ValueError, match="unknown categories"):
        layer_cases.suite_cases(categories=("convs",))


#: Tiny cases of every call path: bias and an uneven padding (torch pads it apart), a
#: depthwise layer through conv2d(groups=C), Linear with bias, GEMM, conv1d, convolve.
TINY = (
    SuiteCase("strided", "5x9x11 7x5x3x2 s2", "conv2d", ((1, 5, 9, 11), (7, 5, 3, 2), (7,)),
              (("stride", (2, 1)), ("padding", (1, 0, 2, 1)), ("dilation", (1, 1)),
               ("groups", 1)), ("toy/conv",)),
    SuiteCase("depthwise", "6x10x10 dw", "conv2d", ((1, 6, 10, 10), (6, 1, 3, 3)),
              (("stride", (1, 1)), ("padding", (1, 1, 1, 1)), ("dilation", (1, 1)),
               ("groups", 6)), ("toy/dw", "toy/dw2")),
    SuiteCase("linear", "13->7 M=3", "linear", ((3, 13), (7, 13), (7,)), (), ("toy/fc",)),
    *layer_cases.gemm_cases(((5, 19, 11),)),
    *layer_cases.conv1d_cases((((2, 3, 17), (4, 3, 5), {"padding": 2, "stride": 2}),)),
    *layer_cases.convolve_cases(((37, 6, "same"),)),
)

FAKE_PEAKS = Peaks("llvm-test-1c", "test CPU", "float32", 1, 100.0, 100.0,
                   ((1 << 10, 10.0, 10.0), (1 << 30, 5.0, 5.0)))


def _run(cases, **kw):
    return layer_suite.run(cases, conv_algo="direct", rounds=2, round_seconds=0.001, settle=0, **kw)


@pytest.fixture(scope="module")
def tiny_rows():
    return _run(TINY)


def test_tiny_run_is_correct_and_timed(tiny_rows):
    assert [r["case"] for r in tiny_rows] == [c.label for c in TINY]
    for r in tiny_rows:
        assert r["status"] == "ok", r
        assert r["rel_error"] < 1e-5
        assert r["tvmprims_s"] > 0 and r["ref_s"] > 0 and r["first_call_s"] > 0
        assert r["ratio"] == pytest.approx(r["ref_s"] / r["tvmprims_s"])
        assert math.isfinite(r["ratio"]) and r["gflops"] > 0
    refs = {r["op"]: (r["reference"], r["algorithm"]) for r in tiny_rows}
    assert refs == {"conv2d": ("torch", "direct"), "linear": ("torch", "dense"),
                    "matmul": ("numpy", "matmul"), "conv1d": ("torch", "direct"),
                    "convolve": ("numpy", "convolve")}
    layer_suite.apply_peaks(tiny_rows, FAKE_PEAKS)
    assert all(r["percent_of_roof"] > 0 for r in tiny_rows)


def test_reports_have_the_columns(tiny_rows, tmp_path):
    csv_path, png, md = layer_report.write_all(tiny_rows, tmp_path, "test machine", "cmd")
    with open(csv_path) as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert tuple(reader.fieldnames) == layer_report.CSV_COLUMNS
    assert len(rows) == len(TINY)
    assert all(math.isfinite(float(r["ratio"])) and float(r["ratio"]) > 0 for r in rows)
    assert rows[1]["layers"] == "toy/dw toy/dw2" and rows[1]["users"] == "2"
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    text = open(md).read()
    assert text.startswith("Machine: test machine") and "| **all** | 6 |" in text
    assert all(f"| {c.category} | {c.label} |" in text for c in TINY)


def _broken(kind):
    """A ``prepare_calls`` whose tvmprims callable is off by 1% (``"wrong"``) or raises."""
    def prepare(case, rng, target, conv_algo):
        calls = layer_suite.prepare(case, rng, target, conv_algo)
        good = calls.tvmprims
        if kind == "wrong":
            return replace(calls, tvmprims=lambda: good() * np.float32(1.01))
        return replace(calls, tvmprims=lambda: 1 / 0)
    return prepare


@pytest.mark.parametrize("kind", ["wrong", "raises"])
def test_a_broken_kernel_is_flagged(kind, tmp_path):
    (row,) = _run([TINY[3]], prepare_calls=_broken(kind))
    summary = layer_suite.summarize([row])["gemm"]
    assert summary["ok"] == 0 and math.isnan(summary["geomean"])
    text = layer_report.markdown([row])
    if kind == "wrong":
        assert row["status"] == "WRONG" and row["rel_error"] == pytest.approx(0.01, rel=1e-3)
        assert row["ratio"] > 0  # still timed, flagged rather than hidden
        assert summary["wrong"] == 1 and "**WRONG**" in text
    else:
        assert row["status"].startswith("failed: ZeroDivisionError")
        assert summary["failed"] == 1 and row["ratio"] is None
    layer_report.write_all([row], tmp_path)  # a row without times still reports


def test_relative_error():
    ref = np.array([1.0, -4.0, 2.0])
    assert layer_suite.relative_error(ref + [0, 0.04, 0], ref) == pytest.approx(0.01)
    assert layer_suite.relative_error(np.array([1.0, np.nan, 2.0]), ref) == math.inf
    assert layer_suite.relative_error(ref[:2], ref) == math.inf
    assert layer_suite.relative_error(np.zeros(3), np.zeros(3)) == 0


def _row(category, case, ratio, status="ok"):
    return {"category": category, "case": case, "ratio": ratio, "status": status}


def test_summary_geomean_and_worst():
    rows = [_row("gemm", "a", 2.0), _row("gemm", "b", 0.5), _row("gemm", "c", 1.0),
            _row("gemm", "fast but wrong", 100.0, "WRONG"), _row("conv", "d", 4.0),
            _row("conv", "e", None, "failed: X")]
    s = layer_suite.summarize(rows)
    assert list(s) == ["conv", "gemm", "all"]  # report order, then all
    assert s["gemm"]["geomean"] == pytest.approx(1.0)
    assert (s["gemm"]["worst"], s["gemm"]["worst_case"]) == (0.5, "gemm b")
    assert (s["gemm"]["cases"], s["gemm"]["ok"], s["gemm"]["wrong"]) == (4, 3, 1)
    assert s["conv"]["geomean"] == 4.0 and s["conv"]["failed"] == 1
    assert s["all"]["geomean"] == pytest.approx((2 * 0.5 * 1 * 4) ** 0.25)
    assert s["all"]["best"] == 4.0


def test_bench_suite_layers_command(tmp_path, capsys):
    out = tmp_path / "suite"
    assert cli.main(["bench", "--suite", "layers", "--categories", "gemm,convolve",
                     "--limit", "1", "--peaks", "none", "--rounds", "1",
                     "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "gemm" in printed and "convolve" in printed and "wrote" in printed
    with open(out / "layer_suite.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["case"] for r in rows] == ["M=1 K=64 N=1000", "1024*1024 full"]
    assert "--suite layers" in (out / "layer_suite.md").read_text()
    with pytest.raises(SystemExit, match="unknown"):
        cli.main(["bench", "--suite", "layers", "--categories", "convs"])


def test_one_thread_runs_are_held_to_one_core():
    two = replace(FAKE_PEAKS, cores=2, gflops=190.0, gflops_core=100.0,
                  bandwidth=((1 << 10, 10.0, 18.0), (1 << 30, None, 9.0)))
    assert layer_suite.roofs_for_threads(two, 2) is two
    one = layer_suite.roofs_for_threads(two, 1)
    assert (one.gflops, one.cores) == (100.0, 1)
    assert one.bandwidth == ((1 << 10, 10.0, 10.0), (1 << 30, None, 9.0))


def test_fresh_caches_are_set_for_the_run_and_restored(monkeypatch, tmp_path):
    import os
    monkeypatch.setenv("TVMPRIMS_ALGO_CACHE", str(tmp_path / "mine.json"))
    monkeypatch.delenv("TVMPRIMS_KERNEL_CACHE", raising=False)
    with layer_suite.fresh_caches():
        inside = os.environ["TVMPRIMS_ALGO_CACHE"]
        assert inside != str(tmp_path / "mine.json") and not os.path.exists(inside)
        assert os.environ["TVMPRIMS_KERNEL_CACHE"] == "off"
    assert os.environ["TVMPRIMS_ALGO_CACHE"] == str(tmp_path / "mine.json")
    assert "TVMPRIMS_KERNEL_CACHE" not in os.environ


@pytest.mark.parametrize("op", ["matmul", "linear", "conv2d"])
def test_schedule_reaches_every_call(op, monkeypatch):
    """``--schedule hand`` (the tuning logs left out) is what every tvmprims call builds with."""
    import tvmprims.api
    from tvmprims.layer_suite import prepare
    seen = []
    original = tvmprims.api.build_workload
    monkeypatch.setattr(tvmprims.api, "build_workload",
                        lambda wl, target, schedule: seen.append(schedule) or
                        original(wl, target, schedule))
    case = {"matmul": lambda: layer_cases.gemm_cases([(3, 5, 7)])[0],
            "linear": lambda: layer_cases.SuiteCase("linear", "5->7", "linear", ((2, 5), (7, 5))),
            "conv2d": lambda: layer_cases.SuiteCase(
                "conv", "c", "conv2d", ((1, 2, 6, 6), (3, 2, 3, 3)),
                (("stride", (1, 1)), ("padding", (1, 1, 1, 1)), ("dilation", (1, 1)),
                 ("groups", 1)))}[op]()
    tvmprims.clear_cache()
    calls = prepare(case, np.random.default_rng(0), schedule="hand")
    np.testing.assert_allclose(calls.tvmprims(), calls.reference(), rtol=1e-4, atol=1e-4)
    assert seen and set(seen) == {"hand"}


def test_cases_below_the_bar_are_measured_again_and_keep_each_sides_best():
    """A case slow in its first pass (a spell of the machine: here a sleep in the first
    preparation's calls) is measured again at the end; each side keeps its best time, the
    first pass's first call and error stay. A case above the bar is measured once."""
    prepared = []

    def prepare(case, rng, target, conv_algo):
        calls = layer_suite.prepare(case, rng, target, conv_algo)
        prepared.append(case.label)
        fast = calls.tvmprims
        if case is TINY[3] and prepared.count(case.label) == 1:
            def slow():
                time.sleep(0.002)
                return fast()
            return replace(calls, tvmprims=slow)
        return calls

    rows = _run([TINY[3], TINY[4]], prepare_calls=prepare, retime_below=0.9)
    slow_row, other = rows
    assert prepared.count(TINY[3].label) == 2 and prepared.count(TINY[4].label) <= 2
    assert slow_row["retimed"] and slow_row["status"] == "ok"
    assert slow_row["tvmprims_s"] < 0.002  # the second pass's time, without the sleep
    assert slow_row["ratio"] == pytest.approx(slow_row["ref_s"] / slow_row["tvmprims_s"])
    assert slow_row["gflops"] == pytest.approx(
        TINY[3].workload.flops / slow_row["tvmprims_s"] / 1e9)
    assert slow_row["first_call_s"] >= 0.002  # the first pass's
    assert f"| {slow_row['ratio']:.2f}* |" in layer_report.markdown(rows)
    once = _run([TINY[3]], prepare_calls=prepare, retime_below=None)
    assert "retimed" not in once[0] and prepared.count(TINY[3].label) == 3


def test_retimed_keeps_a_failed_first_pass():
    row = {"status": "failed: X", "tvmprims_s": None}
    assert layer_suite.retimed(TINY[3], row, {"status": "ok"}) is row


def test_second_pass_runs_in_a_new_process(capfd):
    """With the default calls, the cases below ``retime_below`` are measured again in a new
    process (a process-long slow state of some kernels is not met twice), printing progress."""
    gemm = TINY[5]
    rows = _run([gemm], retime_below=math.inf, progress=lambda line: None)
    assert rows[0]["retimed"] and rows[0]["status"] == "ok"
    assert rows[0]["rel_error"] <= layer_suite.tolerance(rows[0]["algorithm"])
    assert "[again 1/1" in capfd.readouterr().err  # printed by the new process
    again = layer_suite.second_pass([gemm], None, "direct", 2, 0.001, 0, 0, "auto", False)
    assert again[0]["status"] == "ok" and again[0]["tvmprims_s"] > 0 and again[0]["ref_s"] > 0
