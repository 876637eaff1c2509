"""The command line and the benchmark (a real, small run; no time thresholds)."""

import json

import numpy as np
import pytest

from tvmprims import bench, cli, testing


def test_bench_rows_are_consistent():
    case = bench.BenchCase("tiny", "40x30x20", "matmul", ((40, 30), (30, 20)))
    (row,) = bench.run([case], progress=lambda m: None)
    assert row["reference"] == "numpy"
    assert row["none"] > 0 and row["hand"] > 0 and row["ref"] > 0
    assert row["tuned"] is None  # no log has this workload
    assert row["ratio"] == pytest.approx(row["ref"] / row["hand"])
    assert row["gflops"] == pytest.approx(2 * 40 * 30 * 20 / row["hand"] / 1e9)
    table = bench.format_table([row])
    assert "40x30x20" in table and "geometric mean ratio tiny" in table


@pytest.mark.parametrize("n, m", [(1, 1), (10, 3), (10, 4), (4, 10), (7, 7), (1000, 16), (997, 31)])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_torch_reference_of_convolve_is_np_convolve(n, m, mode, rng):
    """The torch computation that CUDA benchmarks compare with (run here on the CPU)."""
    a, v = rng.standard_normal(n), rng.standard_normal(m)
    case = bench.BenchCase("c", "x", "convolve", ((n,), (m,)), (("mode", mode),))
    actual = bench.torch_reference(case, (a, v))().numpy()
    np.testing.assert_allclose(actual, np.convolve(a, v, mode), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", [c for c in bench.WORKLOADS if c.op != "convolve"][::3],
                         ids=lambda c: c.label)
def test_torch_reference_of_workloads(case, rng):
    arrays = [rng.standard_normal(s) for s in case.shapes]
    actual = bench.torch_reference(case, arrays)().numpy()
    kw = case.kwargs()
    if case.op == "matmul":
        expected = arrays[0] @ arrays[1]
    else:
        expected = testing.conv2d_ref(*arrays, stride=kw["stride"], padding=kw["padding"],
                                            groups=arrays[0].shape[1] // arrays[1].shape[1])
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.cuda
def test_bench_on_cuda_compares_with_torch_on_the_gpu():
    case = bench.BenchCase("tiny", "40x30x20", "matmul", ((40, 30), (30, 20)))
    (row,) = bench.run([case], target="cuda", schedules=("hand",), progress=lambda m: None)
    assert row["reference"] == "torch-cuda" and row["hand"] > 0 and row["ref"] > 0


def test_bench_command_writes_table_csv_and_markdown(tmp_path, capsys):
    md, csv_path = tmp_path / "b.md", tmp_path / "b.csv"
    assert cli.main(["bench", "--only", "convolve", "--no-none", "--markdown", str(md),
                     "--csv", str(csv_path)]) == 0
    out = capsys.readouterr().out
    assert "10000*1024 full" in out and "call overhead" in out
    text = md.read_text()
    assert text.startswith("Machine: ") and "| convolve | 1024*1024 full |" in text
    assert len(csv_path.read_text().splitlines()) == 3


def test_bench_only_with_unknown_group():
    with pytest.raises(SystemExit, match="no workload matches"):
        cli.main(["bench", "--only", "nothing"])


def test_quick_set_has_one_workload_per_group():
    groups = [c.group for c in bench.WORKLOADS if c.label in bench.QUICK]
    assert sorted(groups) == sorted({c.group for c in bench.WORKLOADS})


@pytest.mark.parametrize("argv", [["tune"], ["tune", "matmul"]])
def test_tune_needs_shapes(argv):
    with pytest.raises(SystemExit, match="--shape"):
        cli.main(argv)


def test_tune_rejects_bad_shapes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["tune", "matmul", "--shape", "4xq"])
    assert "expected e.g. 1x64x56x56" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["bench", "--rounds", "0"], ["bench", "--suite", "layers", "--limit", "-2"],
    ["infer", "--batch", "0"], ["infer", "--image", "0"], ["infer", "--rounds", "x"],
    ["tune", "matmul", "--shape", "4x4", "--shape", "4x4", "--timeout", "-1"],
    ["tune", "--model", "resnet18", "--chunk", "0"], ["roofline", "--batches", "1,0"],
    ["mnist", "--epochs", "0"]])
def test_counts_and_sizes_below_one_are_rejected_before_anything_runs(argv, capsys):
    with pytest.raises(SystemExit):
        cli.main(argv)
    assert "expected" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["tune", "matmul", "--shape", "4x5"], "matmul takes 2 input shapes (a, b), got 1"),
    (["tune", "conv2d", "--shape", "1x3x8x8", "--shape", "4x3x3x3", "--param", "pad=1"],
     "conv2d has no parameter 'pad'"),
    (["roofline", "--target", "tpu"], "unknown target 'tpu'"),
    (["export", "/nonexistent/m.json", "--out", "x"], "manifest /nonexistent/m.json does not"),
])
def test_bad_input_is_one_line_naming_the_command(argv, message, capsys, monkeypatch):
    monkeypatch.delenv("TVMPRIMS_TRACEBACK", raising=False)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tvmprims {argv[0]}: error: ") and message in err
    assert "Traceback" not in err and err.count("\n") == 1
    monkeypatch.setenv("TVMPRIMS_TRACEBACK", "1")  # the traceback, on request
    with pytest.raises((TypeError, ValueError, OSError), match=message.split(" (")[0]):
        cli.main(argv)


def test_export_command(tmp_path, capsys):
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"kernels": [
        {"name": "dw", "op": "depthwise_conv2d", "shapes": [[1, 4, 9, 9], [4, 1, 3, 3]],
         "params": {"padding": 1}}]}))
    assert cli.main(["export", str(manifest), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "dw.so").exists()
    assert "wrote" in capsys.readouterr().out


def test_algorithm_bench_rows_and_tables(tmp_path, monkeypatch):
    """A real, tiny run of ``tvmprims bench --algorithms``' code: every algorithm timed."""
    from tvmprims import algo_bench, algorithms
    monkeypatch.setenv("TVMPRIMS_ALGO_CACHE", str(tmp_path / "algos.json"))
    algorithms.forget_choices()
    layers = (algo_bench.ConvLayer("tiny", 8, 12, 8), algo_bench.ConvLayer("tiny", 4, 9, 4, k=5))
    rows = algo_bench.run_conv(layers, progress=lambda m: None)
    assert rows[0]["layer"] == "8x12x12>8 3x3" and rows[0]["gflop"] == pytest.approx(
        2 * 8 * 8 * 9 * 144 / 1e9)
    for algo in algo_bench.CONV_COLUMNS:
        assert isinstance(rows[0][algo], float) and rows[0][algo] > 0
    assert rows[1]["winograd2"] == rows[1]["winograd2-pre"] == "n/a"  # 5x5 kernel
    assert rows[1]["auto_algo"] in ("direct", "im2col", "fft")
    table = algo_bench.format_conv(rows)
    assert "direct/auto" in table and "FFT faster than direct on" in table
    assert "| 8x12x12>8 3x3 |" in algo_bench.format_conv(rows, markdown=True)
    mm = algo_bench.run_matmul((("32^3", 32, 32, 32, 4),), progress=lambda m: None)
    assert all(mm[0][c] > 0 for c in ("direct", "log", "log-approx", "lowrank", "numpy"))
    assert "| 32^3 |" in algo_bench.format_matmul(mm, markdown=True)
    algorithms.forget_choices()
