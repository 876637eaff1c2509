"""Algorithm search (tvmprims.algorithms): find_algorithms' table, conv2d(algo="search") and
how conv2d(algo="auto") uses a searched choice (its rules: test_algorithm_heuristic.py)."""

import json

import numpy as np
import pytest

import tvmprims as tp
from tvmprims import algorithms
from tvmprims.ops.registry import CONV2D_ALGORITHM_TABLE
from tvmprims.testing import assert_close, conv1d_ref, conv2d_ref

#: Every conv2d algorithm: the registry's table.
ALL = tuple(CONV2D_ALGORITHM_TABLE)


def test_table_of_a_3x3_layer():
    rows = tp.find_algorithms((1, 8, 13, 11), (6, 8, 3, 3), (6,), padding=1)
    assert sorted(r.algo for r in rows) == sorted(ALL)
    assert all(r.ok for r in rows), algorithms.format_results(rows)
    times = [r.seconds for r in rows]
    assert times == sorted(times) and all(t > 0 for t in times)
    for r in rows:
        assert r.gflops == pytest.approx(2 * 6 * 13 * 11 * 8 * 9 / r.seconds / 1e9, rel=0.02)
        assert 0 <= r.error <= algorithms.TOLERANCE[r.algo] * np.finfo(np.float32).eps
    direct = next(r for r in rows if r.algo == "direct")
    assert direct.error == 0


def test_inapplicable_algorithms_say_why():
    rows = tp.find_algorithms((2, 3, 20, 20), (4, 3, 5, 5), stride=2, padding=2)
    status = {r.algo: r.status for r in rows}
    assert status["direct"] == status["im2col"] == "ok"
    assert status["winograd2"].startswith("not applicable: ") and "3x3" in status["winograd2"]
    assert status["fft"].startswith("not applicable: ") and "stride" in status["fft"]
    assert [r.status.split(":")[0] for r in rows] == ["ok"] * 2 + ["not applicable"] * 3
    assert all(r.seconds is None for r in rows if not r.ok)
    assert "not applicable" in algorithms.format_results(rows)


def test_inaccurate_algorithms_are_ranked_after_accurate_ones(monkeypatch):
    monkeypatch.setitem(algorithms.TOLERANCE, "im2col", 0.0)
    monkeypatch.setitem(algorithms.TOLERANCE, "fft", 0.0)
    rows = tp.find_algorithms((1, 16, 9, 9), (16, 16, 3, 3), padding=1, dtype="float64")
    order = [r.status.split(":")[0] for r in rows]
    assert order == sorted(order, key=["ok", "inaccurate"].index)
    assert any(r.status.startswith("inaccurate: error") for r in rows)


def test_progress_report():
    lines = []
    tp.find_algorithms((1, 2, 5, 5), (2, 2, 3, 3), algorithms=("direct", "fft"),
                       report=lines.append)
    assert len(lines) == 2 and lines[0].startswith("direct") and lines[1].startswith("fft")


def test_search_chooses_the_fastest_and_remembers_it(rng, choice_file, monkeypatch):
    x = rng.standard_normal((1, 4, 10, 10)).astype(np.float32)
    w = rng.standard_normal((5, 4, 3, 3)).astype(np.float32)
    searched = []
    real = algorithms.find_algorithms
    monkeypatch.setattr(algorithms, "find_algorithms",
                        lambda *a, **k: searched.append(k.get("algorithms")) or real(*a, **k))
    out = tp.conv2d(x, w, padding=1, algo="search")
    assert_close(out, conv2d_ref(x, w, padding=1), "float32", 36 * 100)
    assert searched == [None]  # every algorithm
    entries = json.loads(choice_file.read_text())
    (entry,) = entries.values()
    assert entry["algo"] in ALL and entry["ms"] > 0

    tp.conv2d(x, w, padding=1, algo="search")
    assert len(searched) == 1  # remembered in memory
    algorithms.forget_choices()
    monkeypatch.setattr(algorithms, "find_algorithms",
                        lambda *a, **k: pytest.fail("searched again despite the cache file"))
    assert_close(tp.conv2d(x, w, padding=1, algo="search"), conv2d_ref(x, w, padding=1),
                 "float32", 36 * 100)
    # auto uses the searched choice, in this process and (from the file) in a later one
    wl = tp.api.conv2d_workload(x.shape, w.shape, None, "float32", 1, 1)
    assert algorithms.algorithm_of(algorithms.choose_algorithm(wl)) == entry["algo"]
    algorithms.forget_choices()
    assert algorithms.algorithm_of(algorithms.choose_algorithm(wl)) == entry["algo"]


@pytest.mark.parametrize("algo", ["search", "auto"])
def test_search_and_auto_use_the_recorded_choice(rng, choice_file, algo):
    """Whatever the file says is what runs (here: forced to FFT), for auto too."""
    x = rng.standard_normal((1, 2, 7, 7))
    w = rng.standard_normal((3, 2, 3, 3))
    tp.conv2d(x, w, algo="search")
    entries = json.loads(choice_file.read_text())
    key = next(iter(entries))
    choice_file.write_text(json.dumps({key: {"algo": "fft"}}))
    algorithms.forget_choices()
    chosen = algorithms.choose_algorithm(
        tp.api.conv2d_workload(x.shape, w.shape, None, "float64"), None, "auto", algo)
    assert chosen.op == "conv2d_fft"
    assert_close(tp.conv2d(x, w, algo=algo), conv2d_ref(x, w), "float64", 18)


def test_choose_algorithm_rejects_other_methods():
    wl = tp.api.conv2d_workload((1, 1, 4, 4), (1, 1, 3, 3), None, "float32")
    with pytest.raises(ValueError, match="'auto' or 'search', got 'direct'"):
        algorithms.choose_algorithm(wl, None, "auto", "direct")


@pytest.mark.parametrize("algo", ["search", "auto"])
def test_corrupt_cache_file_is_ignored_with_a_warning(rng, choice_file, algo):
    choice_file.write_text("{not json")
    x = rng.standard_normal((1, 1, 4, 4)).astype(np.float32)
    w = rng.standard_normal((1, 1, 3, 3)).astype(np.float32)
    with pytest.warns(UserWarning, match="ignoring unreadable algorithm cache .*algorithms.json"):
        out = tp.conv2d(x, w, algo=algo)
    assert_close(out, conv2d_ref(x, w), "float32", 9)
    if algo == "search":
        assert isinstance(json.loads(choice_file.read_text()), dict)  # rewritten
    else:
        assert choice_file.read_text() == "{not json"  # auto records nothing


@pytest.mark.parametrize("algo", ["search", "auto"])
def test_depthwise_and_conv1d(rng, choice_file, algo):
    x = rng.standard_normal((2, 6, 9, 9)).astype(np.float32)
    w = rng.standard_normal((6, 1, 3, 3)).astype(np.float32)
    assert_close(tp.conv2d(x, w, padding=1, groups=6, algo=algo),
                 conv2d_ref(x, w, padding=1, groups=6), "float32", 9)
    x1 = rng.standard_normal((2, 3, 17)).astype(np.float32)
    w1 = rng.standard_normal((4, 3, 5)).astype(np.float32)
    assert_close(tp.conv1d(x1, w1, padding=2, algo=algo), conv1d_ref(x1, w1, padding=2),
                 "float32", 15)


def test_bad_layer_fails_before_searching(choice_file):
    with pytest.raises(ValueError, match="kernel extent 5 along height"):
        tp.find_algorithms((1, 1, 3, 3), (1, 1, 5, 5))
    with pytest.raises(ValueError, match="unknown conv2d algo 'gemm'"):
        tp.find_algorithms((1, 1, 3, 3), (1, 1, 3, 3), algorithms=("gemm",))
    assert not choice_file.exists()


def test_candidates_over_the_scratch_budget_are_skipped():
    """An FFT on a long 1-D signal would build dense DFT matrices of about 2 GiB (2000 times
    the layer's data): the search skips it, says why, and never compiles it."""
    x_shape, w_shape = (1, 16, 1, 16384), (16, 16, 1, 3)
    fft = tp.api.conv2d_workload(x_shape, w_shape, None, "float32", 1, 0, 1, 1, "fft")
    direct = tp.api.conv2d_workload(x_shape, w_shape, None, "float32", 1, 0, 1, 1, "direct")
    assert fft.scratch_bytes > 1000 * direct.bytes > algorithms.scratch_budget(direct)
    rows = {r.algo: r for r in tp.find_algorithms(x_shape, w_shape, algorithms=("direct", "fft"))}
    assert rows["fft"].status.startswith("skipped: needs 2086.2 MiB of scratch memory, over the "
                                         "64.0 MiB budget")
    assert rows["fft"].seconds is None and rows["direct"].ok


def test_scratch_budget_keeps_the_fast_algorithms():
    """Winograd, im2col and a large-kernel FFT stay within the budget on ordinary layers."""
    for x_shape, w_shape, algos in [((1, 64, 56, 56), (64, 64, 3, 3), ("im2col", "winograd2",
                                                                        "winograd4")),
                                    ((1, 16, 64, 64), (16, 16, 11, 11), ("fft",))]:
        direct = tp.api.conv2d_workload(x_shape, w_shape, None, "float32", 1, 0, 1, 1, "direct")
        for algo in algos:
            wl = algorithms.algorithm_workload(direct, algo)
            assert wl.scratch_bytes <= algorithms.scratch_budget(direct), (algo, x_shape)


@pytest.mark.parametrize("algo", ["search", "auto"])
def test_first_call_memory_is_bounded(tmp_path, algo):
    """Peak memory of the first ``conv1d(algo="search")`` (or auto) on a 1 MiB signal: the
    search used to allocate about 1 GiB more for its FFT candidate (and TVM keeps a kernel's
    scratch memory for the life of the thread)."""
    import subprocess
    import sys
    script = """
import resource, numpy as np, tvmprims
rng = np.random.default_rng(0)
w = rng.random((16, 16, 3), dtype=np.float32)
tvmprims.conv1d(rng.random((1, 16, 64), dtype=np.float32), w, algo=ALGO)  # compiler loaded
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tvmprims.conv1d(rng.random((1, 16, 16384), dtype=np.float32), w, algo=ALGO)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
""".replace("ALGO", repr(algo))
    env = {**__import__("os").environ, "TVMPRIMS_ALGO_CACHE": str(tmp_path / "algos.json")}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         check=True, timeout=600)
    growth_mib = float(out.stdout.strip().splitlines()[-1])
    assert growth_mib < 256, f"first call grew the peak RSS by {growth_mib:.0f} MiB"


def test_search_times_candidates_in_turn_and_keeps_each_ones_best():
    """A slow spell during one round costs no candidate its place."""
    from tvmprims.algorithms import AlgorithmResult, _timed
    from tvmprims.kernel import Timing
    calls = []

    class Fake:
        def __init__(self, name, seconds):
            self.name, self.seconds = name, list(seconds)

        def time(self, *arrays, **kw):
            calls.append(self.name)
            s = self.seconds.pop(0)
            return Timing(s, 0.0, (s,))

    tried = [(AlgorithmResult("direct", error=0.0), Fake("direct", [2.0, 1.0, 1.5])),
             (AlgorithmResult("fft", status="not applicable: x"), None),
             (AlgorithmResult("winograd2", error=0.0), Fake("winograd2", [0.8, 3.0, 0.9]))]
    rows = _timed(tried, (), 8e9, rounds=3)
    assert calls == ["direct", "winograd2"] * 3
    assert [r.seconds for r in rows] == [1.0, None, 0.8]
    assert rows[2].gflops == 10.0 and rows[1].status.startswith("not applicable")
