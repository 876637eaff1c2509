"""The studies (tvmprims study ...): small but real runs; outputs exist and make sense."""

import csv

import numpy as np
import pytest

from tvmprims import cli
from tvmprims.studies import precision, rank


def _read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_precision_study(tmp_path):
    assert cli.main(["study", "precision", "--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "precision.png").stat().st_size > 10_000
    rows = _read(tmp_path / "precision.csv")
    labels = [*precision.CONV_ALGORITHMS, *precision.MATMUL_ALGORITHMS]
    assert sorted({r["algorithm"] for r in rows}) == sorted(labels)
    assert len(rows) == len(labels) * len(precision.PRECISIONS)
    err = {(r["algorithm"], r["dtype"]): float(r["max_rel_error"]) for r in rows
           if r["status"] == "ok"}
    for algo in ("direct", "im2col", "winograd2", "winograd4", "fft", "matmul", "log"):
        assert err[algo, "float64"] < 1e-12
        assert 1e-9 < err[algo, "float32"] < 1e-3 and err[algo, "float32"] > err[algo, "float64"]
    for dtype in ("float16", "bfloat16"):  # every algorithm compiles at every dtype
        for algo in labels:
            assert (algo, dtype) in err, f"{algo} at {dtype}: no result"
        assert err["direct", dtype] > err["direct", "float32"] * 10
    # TVM computes bfloat16 in float32 and rounds on stores: the output's rounding (half an
    # ulp of 8 bits, 2^-9 relative) dominates; float16 accumulates in float16.
    assert 2 ** -12 < err["direct", "bfloat16"] < 2 ** -7
    approx = [err[f"log-approx-{b}", "float64"] for b in (2, 4, 6)]
    assert approx[0] > approx[1] > approx[2] > err["log", "float64"]
    assert approx[0] < 2 ** (2 ** -2) - 1  # the method's error bound
    assert all(r["status"] == "ok" for r in rows)


def test_rank_study(tmp_path):
    assert cli.main(["study", "rank", "--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "rank.png").stat().st_size > 10_000
    errors = _read(tmp_path / "rank_error.csv")
    assert {r["matrix"] for r in errors} == {"random", "rank-16", "image"}
    for name in ("random", "rank-16", "image"):
        values = [float(r["rel_error"]) for r in errors if r["matrix"] == name]
        assert all(a >= b for a, b in zip(values, values[1:])) and values[-1] < 1e-5
    low = {int(r["rank"]): float(r["rel_error"]) for r in errors if r["matrix"] == "rank-16"}
    assert low[12] > 1e-2 and low[16] < 1e-4  # known rank: the error collapses at 16
    speeds = _read(tmp_path / "rank_speed.csv")
    assert all(float(r["lowrank_ms"]) > 0 and float(r["full_ms"]) > 0 for r in speeds)
    assert float(speeds[0]["flop_ratio"]) == pytest.approx(256 / 2)


def test_break_even_interpolates():
    rows = [{"rank": 32, "speedup": 2.0}, {"rank": 64, "speedup": 1.0 / 2.0}]
    assert rank.break_even(rows) == pytest.approx(48)
    assert rank.break_even([{"rank": 1, "speedup": 0.5}]) is None


def test_representable_inputs_are_exact_in_every_dtype():
    x = precision.representable((1000,), np.random.default_rng(0))
    import ml_dtypes
    assert np.array_equal(x.astype(ml_dtypes.bfloat16).astype(np.float64), x)
    assert np.array_equal(x.astype(np.float16).astype(np.float64), x)
