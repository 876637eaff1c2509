"""conv2d(algo="auto"): rules on the layer's shape (tvmprims.algorithm_heuristic) pick one
algorithm and only it is compiled; the rules' thresholds are a fit of the shipped measured
table (tvmprims.algorithm_table)."""

import dataclasses
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

import tvmprims as tp
from tvmprims import algorithm_heuristic as heuristic
from tvmprims import algorithm_table, algorithms
from tvmprims.ops import NotApplicable
from tvmprims.ops.registry import CONV2D_ALGORITHM_TABLE, conv2d_workload
from tvmprims.testing import assert_close, conv2d_ref

MEASURED = Path(__file__).parent.parent / "docs" / "algorithm_choice" / "measured.csv"
#: Each shipped table (Zen 3 AVX2; AVX-512: Zen 4, seven runs; AVX-512 with two FMAs a cycle:
#: an Intel Xeon's five) and the rules fitted to it, over its grid.
TABLES = {"avx2": ([MEASURED], heuristic.CPU_RULES, heuristic.AVX2_GRID),
          "avx512": ([MEASURED.with_name(f"measured_avx512{run}.csv")
                      for run in ("", "_run2", "_run3", "_run4_pointwise",
                                  "_run5_small_planes", "_run6_batch8",
                                  "_run7_narrow_outputs")],
                     heuristic.AVX512_RULES,
                     heuristic.GRID),
          "avx512-2fma": ([MEASURED.with_name(f"xeon_{table}.csv")
                           for table in ("pointwise_batch1", "pointwise_batch8",
                                         "pointwise_small", "other_batch1",
                                         "narrow_outputs", "other_batch8")],
                          heuristic.AVX512_TWO_FMA_RULES, heuristic.GRID)}


def _layer(x_shape, w_shape, stride=1, padding=0, groups=1, dtype="float32"):
    return conv2d_workload(x_shape, w_shape, None, dtype, stride, padding, 1, groups)


#: Rules that pick each algorithm wherever it applies (direct: rules that pick nothing else).
PREFERRING = {
    "direct": heuristic.Rules(),
    "im2col": heuristic.Rules(im2col_min_channels=0, im2col_pointwise=True, im2col_strided=True),
    "winograd2": heuristic.Rules(winograd_min_channels=0, winograd_min_pixels=0),
    "winograd4": heuristic.Rules(winograd_min_channels=0, winograd_min_pixels=0,
                                 winograd4_min_pixels=0),
    "fft": heuristic.Rules(fft_min_taps=0),
}


def _assert_accurate(out, ref, algo, taps):
    """Direct and im2col: a sum of ``taps`` products; transforms: the search's tolerance."""
    if algo in ("direct", "im2col"):
        assert_close(out, ref, "float32", taps)
        return
    error = float(np.abs(out - ref).max()) / max(1.0, float(np.abs(ref).max()))
    assert error <= algorithms.TOLERANCE[algo] * np.finfo(np.float32).eps, (algo, error)


@pytest.fixture(scope="module")
def measured_rows():
    return algorithm_table.read_csv(MEASURED)


# --- the shipped models and tables ------------------------------------------------------------

@pytest.mark.parametrize("isa", TABLES)
def test_cpu_rules_are_the_fit_of_the_shipped_table(isa):
    paths, rules, grid = TABLES[isa]
    assert algorithm_table.fit(algorithm_table.read_runs(paths), grid) == rules


@pytest.mark.parametrize("isa", TABLES)
def test_cpu_rules_agree_with_the_measured_searches(isa):
    paths, rules, _ = TABLES[isa]
    rows = algorithm_table.read_runs(paths)
    ev = algorithm_table.evaluate(rows, rules)
    always_direct = algorithm_table.evaluate(rows, heuristic.Rules())
    assert ev.layers == always_direct.layers > 70
    assert ev.geomean < always_direct.geomean and ev.agree > always_direct.agree
    assert ev.geomean < 1.2, ev.summary()


@pytest.mark.parametrize("name, rules", [("avx2-znver3", heuristic.CPU_RULES),
                                         ("avx2-haswell", heuristic.CPU_RULES),
                                         ("avx512-znver4", heuristic.AVX512_RULES),
                                         ("avx512-skylake", heuristic.AVX512_RULES)])
def test_each_cpu_gets_the_rules_of_its_vector_isa(name, rules):
    from cpu_targets import CPU_TARGETS
    assert heuristic.rules_for(CPU_TARGETS[name][0]) is rules
    assert heuristic.MODELS["cpu"] is heuristic.CPU_RULES  # any other CPU


@pytest.mark.parametrize("isa, issue, rules", [("avx512", 1, heuristic.AVX512_RULES),
                                               ("avx512", 2, heuristic.AVX512_TWO_FMA_RULES),
                                               ("avx2", 2, heuristic.CPU_RULES),
                                               ("neon", 4, heuristic.CPU_RULES)])
def test_rules_follow_the_fma_issue_width(monkeypatch, isa, issue, rules):
    """A core that issues two 512-bit FMAs a cycle (measured, not in LLVM's target) gets
    rules of its own; ISAs without such rules fall back to their ISA's, then the CPU's, and
    are not measured."""
    from cpu_targets import CPU_TARGETS
    from tvmprims.roofline import fma_issue
    from tvmprims.schedules import hardware
    model = hardware.CpuModel(isa, 64 if isa == "avx512" else 32, 32)
    asked = []
    monkeypatch.setattr(hardware, "cpu_model", lambda target: model)
    monkeypatch.setattr(fma_issue, "fma_issue", lambda target: asked.append(1) or issue)
    assert heuristic.rules_for(CPU_TARGETS["avx512-znver4"][0]) is rules
    assert len(asked) == (isa == "avx512")


#: Representative layers of the shipped table and the algorithm measured fastest on them.
REPRESENTATIVE = [
    ("resnet18/conv1@1", "direct"),                      # stem 7x7 stride 2
    ("mobilenet_v2/features.2.conv.0.0@1", "im2col"),    # 1x1, 16 -> 96 channels
    ("vgg16/features.10@1", "winograd4"),                # 3x3 stride 1, 128 channels, 56x56
    ("resnet18/layer3.0.conv2@1", "direct"),             # 3x3 stride 1, 256 channels, 14x14
    ("resnet18/layer2.0.downsample.0@1", "im2col"),      # 1x1 stride 2
    ("mobilenet_v2/features.3.conv.1.0@1", "direct"),    # depthwise
]


@pytest.mark.parametrize("source, best", REPRESENTATIVE, ids=[s for s, _ in REPRESENTATIVE])
def test_choice_on_representative_layers(measured_rows, source, best):
    ((wl, times),) = [(wl, t) for (s, wl), t in algorithm_table.by_layer(measured_rows).items()
                      if s == source]
    assert min((a for a in times if times[a] is not None), key=times.get) == best
    assert heuristic.choose(wl, budget=algorithms.scratch_budget(wl)) == best


# --- rules that hold for any fitted model -----------------------------------------------------

@pytest.mark.parametrize("algo", [a for a in CONV2D_ALGORITHM_TABLE if a != "direct"])
def test_depthwise_layers_run_direct(algo):
    wl = _layer((1, 32, 20, 20), (32, 1, 3, 3), padding=1, groups=32)
    assert heuristic.choose(wl, PREFERRING[algo]) == "direct"


@pytest.mark.parametrize("x_shape, w_shape, stride, allowed", [
    ((1, 3, 30, 30), (8, 3, 7, 7), 2, {"direct", "im2col"}),       # a strided stem
    ((1, 4, 12, 12), (4, 4, 5, 5), 1, {"direct", "im2col", "fft"}),  # no Winograd off 3x3
    ((1, 1, 1, 1), (1, 1, 1, 1), 1, {"direct", "im2col", "fft"}),    # tiny
])
@pytest.mark.parametrize("algo", [a for a in CONV2D_ALGORITHM_TABLE if a != "direct"])
def test_only_applicable_algorithms_are_chosen(x_shape, w_shape, stride, allowed, algo):
    choice = heuristic.choose(_layer(x_shape, w_shape, stride), PREFERRING[algo])
    assert choice in allowed and (algo in allowed or choice == "direct")


@pytest.mark.parametrize("x_shape, w_shape, stride, groups, expected", [
    ((1, 64, 56, 56), (64, 64, 3, 3), 1, 1, "winograd4"),   # wide 3x3: Winograd...
    ((1, 64, 10, 10), (64, 64, 3, 3), 1, 1, "direct"),      # ... not on few pixels,
    ((1, 4, 56, 56), (64, 4, 3, 3), 1, 1, "direct"),        # ... nor on few channels
    ((1, 3, 224, 224), (64, 3, 7, 7), 2, 1, "direct"),      # stem: nothing to gain
    ((1, 2, 5, 5), (3, 2, 3, 3), 1, 1, "direct"),           # tiny
    ((1, 32, 56, 56), (64, 32, 1, 1), 1, 1, "im2col"),      # 1x1: a GEMM
    ((1, 32, 56, 56), (32, 1, 3, 3), 1, 32, "direct"),      # depthwise
])
def test_rules_on_representative_shapes(x_shape, w_shape, stride, groups, expected):
    rules = heuristic.Rules(winograd_min_channels=32, winograd_min_pixels=28 * 28,
                            winograd4_min_pixels=56 * 56, im2col_min_channels=16,
                            im2col_pointwise=True)
    assert heuristic.choose(_layer(x_shape, w_shape, stride, w_shape[2] // 2, groups),
                            rules) == expected


@pytest.mark.parametrize("x_shape, w_shape, expected", [
    ((1, 2048, 7, 7), (512, 2048, 1, 1), "im2col"),    # ResNet-50: 8 KiB weight rows
    ((1, 1024, 7, 7), (256, 1024, 1, 1), "direct"),    # under 14x14, 2^26 MACs, 2048 channels
    ((1, 1024, 14, 14), (256, 1024, 1, 1), "direct"),  # under 56x56 pixels
    ((1, 256, 56, 56), (64, 256, 1, 1), "im2col"),     # 56x56 pixels
    ((1, 2048, 7, 7), (512, 2048, 3, 3), "direct"),    # not 1x1 (too few pixels for Winograd)
    ((1, 384, 13, 13), (256, 384, 3, 3), "winograd2"),  # AlexNet: 169 pixels
    ((1, 512, 12, 12), (512, 512, 3, 3), "direct"),     # 144 pixels
    ((4, 1152, 7, 7), (320, 1152, 1, 1), "im2col"),     # 2^26 MACs on 4 images
    ((8, 1152, 7, 7), (320, 1152, 1, 1), "direct"),     # and on 8: direct packs once
    ((8, 2048, 7, 7), (512, 2048, 1, 1), "direct"),
    ((8, 512, 7, 7), (512, 512, 3, 3), "winograd4"),    # 392 pixels over the batch
    ((6, 512, 7, 7), (512, 512, 3, 3), "winograd2"),
    ((8, 128, 14, 14), (32, 128, 3, 3), "direct"),      # DenseNet: 32 outputs
    ((8, 128, 14, 14), (64, 128, 3, 3), "winograd4"),
])
def test_avx512_rules_at_the_thresholds_they_gained_on_zen4(x_shape, w_shape, expected):
    """im2col on 1x1 layers from 56x56 pixels, 2^26 multiply-adds or 2048 input channels, on
    at most 4 images; Winograd from 13x13 output pixels (over the batch) and 64 output
    channels."""
    wl = _layer(x_shape, w_shape, padding=w_shape[2] // 2)
    assert heuristic.choose(wl, heuristic.AVX512_RULES) == expected


@pytest.mark.parametrize("x_shape, w_shape, expected", [
    ((1, 320, 7, 7), (1280, 320, 1, 1), "im2col"),     # 7x7 pixels
    ((1, 232, 7, 7), (232, 232, 1, 1), "im2col"),      # ... however few multiply-adds
    ((1, 1024, 14, 14), (256, 1024, 1, 1), "im2col"),
    ((8, 1152, 7, 7), (320, 1152, 1, 1), "im2col"),    # any batch
    ((1, 64, 13, 13), (256, 64, 1, 1), "im2col"),
    ((1, 64, 6, 6), (256, 64, 1, 1), "direct"),        # under 7x7 pixels
    ((1, 960, 1, 1), (40, 960, 1, 1), "direct"),       # squeeze-and-excitation
    ((1, 8, 56, 56), (64, 8, 1, 1), "direct"),         # under 16 input channels
    ((1, 256, 14, 14), (256, 256, 3, 3), "direct"),    # Winograd from 8 x 7 x 7 pixels
    ((8, 512, 7, 7), (512, 512, 3, 3), "winograd4"),   # ... F(4x4) from there
    ((1, 64, 20, 20), (64, 64, 3, 3), "winograd4"),
    ((1, 32, 28, 28), (64, 32, 3, 3), "winograd4"),    # ... and 32 input channels
    ((1, 24, 28, 28), (64, 24, 3, 3), "direct"),
    ((1, 64, 28, 28), (48, 64, 3, 3), "direct"),       # ... and 64 output channels
])
def test_two_fma_rules_at_their_thresholds(x_shape, w_shape, expected):
    """With two 512-bit FMAs a cycle, im2col for 1x1 layers of 16 or more input channels from
    7x7 pixels on, at any batch; Winograd F(4x4) from 8 x 7 x 7 pixels (over the batch), 32
    input and 64 output channels."""
    wl = _layer(x_shape, w_shape, padding=w_shape[2] // 2)
    assert heuristic.choose(wl, heuristic.AVX512_TWO_FMA_RULES) == expected


def test_fit_scores_every_rule_of_the_grid(measured_rows):
    """The vectorised fit agrees with scoring each rule of a small grid one at a time."""
    grid = {**heuristic.AVX2_GRID, "winograd_min_channels": (math.inf, 64, 16),
            "fft_min_taps": (math.inf,), "im2col_min_channels": (math.inf, 16),
            "im2col_min_pixels": (0, 28 * 28), "im2col_wide_channels": (math.inf, 256),
            "im2col_max_images": (math.inf, 1)}
    _, shapes, allowed, seconds = algorithm_table._table(measured_rows)
    names = [f.name for f in dataclasses.fields(heuristic.Rules)]
    best, expected = math.inf, None
    for values in itertools.product(*(grid[n] for n in names)):
        rules = heuristic.Rules(*values)
        losses = algorithm_table._losses(seconds, heuristic.choice_indices(shapes, allowed, rules))
        score = float(np.exp(np.log(losses).mean()))
        if score < best - 1e-12:
            best, expected = score, rules
    assert algorithm_table.fit(measured_rows, grid) == expected
    assert algorithm_table.evaluate(measured_rows, expected).geomean == pytest.approx(best)


def test_an_algorithm_over_the_budget_falls_through():
    wl = _layer((1, 64, 56, 56), (64, 64, 3, 3), padding=1)
    w2, w4 = (algorithms.algorithm_workload(wl, a).scratch_bytes for a in ("winograd2",
                                                                            "winograd4"))
    assert w4 < w2  # F(4x4, 3x3) has fewer, larger tiles
    between = (w2 + w4) // 2
    assert heuristic.choose(wl, PREFERRING["winograd2"], w2) == "winograd2"
    assert heuristic.choose(wl, PREFERRING["winograd2"], between) == "direct"
    assert heuristic.choose(wl, PREFERRING["winograd4"], between) == "winograd4"
    assert heuristic.choose(wl, PREFERRING["winograd4"], w4 - 1) == "direct"


def test_scratch_budget_bounds_the_choice():
    """An FFT on a 16384-sample signal needs about 2 GiB of scratch memory: never chosen
    within the budget, however fast the model thinks it is."""
    wl = _layer((1, 16, 1, 16384), (16, 16, 1, 3))
    budget = algorithms.scratch_budget(wl)
    assert heuristic.choose(wl, PREFERRING["fft"]) == "fft"  # no bound
    assert heuristic.choose(wl, PREFERRING["fft"], budget) == "direct"
    small = _layer((1, 16, 1, 256), (16, 16, 1, 3))
    assert heuristic.choose(small, PREFERRING["fft"], algorithms.scratch_budget(small)) == "fft"


def test_cuda_targets_get_direct(choice_file):
    wl = _layer((1, 64, 28, 28), (64, 64, 3, 3), padding=1)
    assert "cuda" not in heuristic.MODELS
    assert algorithms.heuristic_algorithm(wl, "cuda") == wl


# --- conv2d(algo="auto") ----------------------------------------------------------------------

@pytest.mark.parametrize("algo", list(CONV2D_ALGORITHM_TABLE))
def test_auto_compiles_only_the_chosen_kernel(rng, choice_file, monkeypatch, algo):
    """Whatever the model picks runs, compiled once, correct against float64, and nothing
    is searched or recorded."""
    monkeypatch.setattr(heuristic, "rules_for", lambda target: PREFERRING[algo])
    monkeypatch.setattr(algorithms, "find_algorithms", lambda *a, **k: pytest.fail("searched"))
    shape = 23 + list(CONV2D_ALGORITHM_TABLE).index(algo)  # a layer no other test compiles
    x = rng.standard_normal((2, 5, shape, 17)).astype(np.float32)
    w = rng.standard_normal((7, 5, 3, 3)).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    stride = 2 if algo == "im2col" else 1  # where the rules use im2col
    before = tp.cache_info()["misses"]
    out = tp.conv2d(x, w, b, stride, padding=1)
    assert tp.cache_info()["misses"] - before == 1
    _assert_accurate(out, conv2d_ref(x, w, b, stride, padding=1), algo, 45)
    chosen = algorithms.choose_algorithm(
        conv2d_workload(x.shape, w.shape, b.shape, "float32", stride, 1))
    assert algorithms.algorithm_of(chosen) == algo
    tp.conv2d(x, w, b, stride, padding=1)
    assert tp.cache_info()["misses"] - before == 1
    assert not choice_file.exists()


def test_auto_and_search_agree_with_float64(rng, choice_file):
    """The shipped model's choice and the searched one on a 3x3 layer of 64 channels (where
    Winograd may win): both within their algorithm's tolerance of float64."""
    x = rng.standard_normal((1, 64, 15, 13)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    ref = conv2d_ref(x, w, padding=1)
    for algo in ("auto", "search"):
        out = tp.conv2d(x, w, padding=1, algo=algo)
        picked = algorithms.algorithm_of(algorithms.choose_algorithm(
            conv2d_workload(x.shape, w.shape, None, "float32", 1, 1), algo=algo))
        _assert_accurate(out, ref, picked, 64 * 9)
    assert len(json.loads(choice_file.read_text())) == 1  # the search's record


# --- the measured table -----------------------------------------------------------------------

def test_table_round_trip_and_measure(tmp_path):
    layers = algorithm_table.sample_layers(sample=(), extra=[
        ("t/1", (1, 2, 6, 5), (3, 2, 3, 3), 1, 1), ("t/2", (1, 2, 6, 5), (3, 2, 1, 1), 2, 0)])
    assert [s for s, _ in layers] == ["t/1", "t/2"]
    rows = list(algorithm_table.measure(layers))
    assert [(r.source, r.algo) for r in rows if r.ok][:1] and len(rows) == 2 * len(
        CONV2D_ALGORITHM_TABLE)
    status = {(r.source, r.algo): r.status for r in rows}
    assert status["t/1", "winograd2"] == "ok" and status["t/2", "fft"] == "not applicable"
    path = tmp_path / "t.csv"
    algorithm_table.write_csv(rows, path)
    back = {(r.source, r.algo): r for r in algorithm_table.read_csv(path)}
    assert sorted(back) == sorted((r.source, r.algo) for r in rows)
    for r in rows:
        assert back[r.source, r.algo].workload == r.workload
        assert back[r.source, r.algo].status == r.status
        assert back[r.source, r.algo].seconds == (None if r.seconds is None
                                                  else pytest.approx(r.seconds, rel=1e-5))
    assert [wl for _, wl in algorithm_table.by_layer(rows)] == [wl for _, wl in layers]


def test_runs_merge_by_the_geometric_mean_of_each_algorithms_times(tmp_path):
    wl = _layer((1, 2, 6, 5), (3, 2, 3, 3), padding=1)
    layer = json.dumps(wl.to_json(), sort_keys=True)
    R = algorithm_table.MeasuredRow
    runs = [[R("a", layer, "direct", "ok", 1e-3), R("a", layer, "fft", "timed out")],
            [R("a", layer, "direct", "ok", 4e-3), R("a", layer, "fft", "failed"),
             R("b", layer, "im2col", "ok", 2e-3)]]
    paths = [tmp_path / f"run{i}.csv" for i in range(2)]
    for rows, path in zip(runs, paths):
        algorithm_table.write_csv(rows, path)
    merged = {(r.source, r.algo): r for r in algorithm_table.read_runs(paths)}
    assert merged["a", "direct"].seconds == pytest.approx(2e-3)
    assert merged["a", "fft"].status == "failed" and merged["a", "fft"].seconds is None
    assert merged["b", "im2col"].seconds == pytest.approx(2e-3)
    one, alone = algorithm_table.read_runs(paths[:1]), algorithm_table.read_csv(paths[0])
    assert [(r.source, r.algo, r.status) for r in one] == [
        (r.source, r.algo, r.status) for r in alone]


def _rows(layers, ratios):
    """Rows of a made-up table: direct 1 ms, the others (where they apply)
    ``ratios[algo](layer)`` times that."""
    out = []
    for i, wl in enumerate(layers):
        layer = json.dumps(wl.to_json(), sort_keys=True)
        for algo, ratio in {"direct": lambda wl: 1.0, **ratios}.items():
            try:
                algorithms.algorithm_workload(wl, algo)
            except NotApplicable:
                out.append(algorithm_table.MeasuredRow(f"l{i}", layer, algo, "not applicable"))
                continue
            out.append(algorithm_table.MeasuredRow(f"l{i}", layer, algo, "ok", 1e-3 * ratio(wl)))
    return out


def test_fit_finds_the_thresholds_of_a_table():
    """Winograd 2 twice as fast as direct from 64 channels on, im2col on 1x1 layers: the fit
    finds the smallest threshold that separates them, and never the FFT."""
    layers = [_layer((1, c, h, h), (c, c, k, k), padding=k // 2) for c in (8, 32, 64, 128)
              for h in (8, 30) for k in (1, 3)]
    wins = {"winograd2": lambda wl: 0.5 if wl.shapes[0][1] >= 64 else 2.0,
            "winograd4": lambda wl: 3.0, "fft": lambda wl: 1.5,
            "im2col": lambda wl: 0.8 if wl.shapes[1][2] == 1 else 1.2}
    rows = _rows(layers, wins)
    rules = algorithm_table.fit(rows, heuristic.AVX2_GRID)  # the smaller grid: quicker
    assert rules.winograd_min_channels == 64 and rules.winograd4_min_pixels == math.inf
    assert rules.fft_min_taps == math.inf and rules.im2col_pointwise
    ev = algorithm_table.evaluate(rows, rules)
    assert ev.agree == 1 and ev.geomean == 1 and ev.layers == len(layers)
    always_direct = algorithm_table.evaluate(rows, heuristic.Rules())
    assert always_direct.worst == pytest.approx(2.0) and always_direct.agree < 1


def test_cli_algos_says_what_auto_runs(capsys, choice_file):
    from tvmprims import cli
    assert cli.main(["algos", "--shape", "1x4x9x9", "--shape", "4x4x3x3",
                     "--param", "padding=1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("algo ") and len(out) == 3 + len(CONV2D_ALGORITHM_TABLE)
    wl = conv2d_workload((1, 4, 9, 9), (4, 4, 3, 3), None, "float32", 1, 1)
    assert out[-2] == f'algo="auto" runs: {heuristic.choose(wl)}'
    assert out[-1] == heuristic.rules_report()  # which rules, and why
    assert not choice_file.exists()  # the search table alone records nothing


@pytest.mark.parametrize("x_shape, w_shape, groups, expected", [
    ((1, 512, 13, 13), (1000, 512, 1, 1), 1, "im2col"),  # SqueezeNet's classifier: 62.5 vectors
    ((1, 64, 14, 14), (40, 64, 1, 1), 1, "im2col"),      # 2.5 vectors
    ((1, 64, 14, 14), (64, 64, 1, 1), 1, "direct"),      # whole vectors
    ((1, 64, 14, 14), (12, 64, 1, 1), 1, "direct"),      # less than one vector
    ((1, 480, 1, 1), (20, 480, 1, 1), 1, "direct"),      # one pixel: a GEMV either way
    ((1, 64, 14, 14), (40, 64, 3, 3), 1, "direct"),      # not 1x1
])
def test_ragged_pointwise_layers_leave_direct(x_shape, w_shape, groups, expected):
    """1x1 layers whose output channels are not whole vectors go to im2col whatever the
    fitted rules say (no such layer is in the tables), given the target's lanes."""
    wl = _layer(x_shape, w_shape, groups=groups)
    direct_only = heuristic.Rules()
    assert heuristic.choose(wl, direct_only, algorithms.scratch_budget(wl), lanes=16) == expected
    assert heuristic.choose(wl, direct_only, algorithms.scratch_budget(wl)) == "direct"
