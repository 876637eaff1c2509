"""The command line and the benchmark (a real, small run; no time thresholds)."""

import json

import pytest

from tvmprims import bench, cli


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
