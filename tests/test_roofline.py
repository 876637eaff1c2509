"""Roofline: FLOP and byte counts, measured peaks, roofline points, model analysis, the study."""

import csv
import json
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

import tvmprims
from tvmprims import cli
from tvmprims.ops.registry import conv2d_workload
from tvmprims.build import build_workload
from tvmprims.ops import convolve, dense, depthwise_conv2d, matmul
from tvmprims.roofline import kernels, models, peaks as peaks_mod
from tvmprims.roofline.analysis import roofline_point
from tvmprims.roofline.peaks import Peaks, machine_peaks, measure_peaks
from tvmprims.roofline.points import kernel_roofline
from tvmprims.target import resolve_target, target_key

#: A made-up machine: 100 GFLOP/s; 400 GB/s in a 64 KiB cache, 20 GB/s from 64 MiB on.
FAKE = Peaks("llvm-test-1c", "test CPU", "float32", 1, 100.0, 100.0,
             ((64 << 10, 400.0, 400.0), (64 << 20, 20.0, 20.0)))


def _read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


# --- FLOPs and bytes, by hand ---------------------------------------------------------------

def test_flops_and_bytes_by_hand():
    wl = matmul.workload((7, 13), (13, 5))
    assert wl.flops == 2 * 7 * 13 * 5 == wl.executed_flops
    assert wl.bytes == (7 * 13 + 13 * 5 + 7 * 5) * 4
    assert wl.intensity == pytest.approx(wl.flops / wl.bytes)
    # conv2d 1x3x5x5 * 2x3x3x3 + bias, no padding: 2 x 3 x 3 outputs, 27 multiply-adds each.
    wl = conv2d_workload((1, 3, 5, 5), (2, 3, 3, 3), (2,), "float64")
    assert wl.flops == 2 * 18 * 27 + 18 == wl.executed_flops
    assert wl.bytes == (75 + 54 + 2 + 18) * 8
    # stride 2, padding 1, groups 2: 1x4x7x7 * 6x2x3x3 -> 1x6x4x4, 18 multiply-adds each.
    wl = conv2d_workload((1, 4, 7, 7), (6, 2, 3, 3), None, "float32", 2, 1, 1, 2)
    assert wl.flops == 2 * 96 * 18 == wl.executed_flops
    wl = depthwise_conv2d.workload((2, 3, 6, 6), (3, 1, 3, 3), None, "float32", 1, 1)
    assert wl.flops == 2 * (2 * 3 * 36) * 9 == wl.executed_flops
    wl = dense.workload((3, 11), (11, 4), (4,), relu=True)
    assert wl.flops == 3 * 4 * (2 * 11 + 1 + 1) == wl.executed_flops
    wl = convolve.workload((10,), (3,), mode="full")
    assert wl.flops == 2 * 12 * 3 == wl.executed_flops


def test_algorithms_count_useful_and_executed_flops():
    direct = conv2d_workload((1, 64, 56, 56), (64, 64, 3, 3), padding=1)
    winograd4 = conv2d_workload((1, 64, 56, 56), (64, 64, 3, 3), padding=1, algo="winograd4")
    winograd2 = conv2d_workload((1, 64, 56, 56), (64, 64, 3, 3), padding=1, algo="winograd2")
    fft = conv2d_workload((1, 64, 56, 56), (64, 64, 3, 3), padding=1, algo="fft")
    assert winograd4.flops == winograd2.flops == fft.flops == direct.flops
    # Winograd F(4x4, 3x3) multiplies 36 times per 16 outputs instead of 144: 4x fewer
    # in its GEMMs, less the transforms; F(2x2) 2.25x fewer.
    assert direct.flops / 4 < winograd4.executed_flops < winograd2.executed_flops < direct.flops / 1.5
    assert fft.executed_flops > direct.flops  # a 3x3 kernel is too small for the FFT
    assert winograd4.bytes == direct.bytes  # same inputs and output: same compulsory traffic


# --- Peaks and points -----------------------------------------------------------------------

def test_roof_and_bandwidth_interpolation():
    assert FAKE.dram_gbps == 20 and FAKE.cache_gbps == 400 and FAKE.ridge == 5
    assert FAKE.roof(1.0) == 20 and FAKE.roof(10.0) == 100
    assert FAKE.roof(0.1, footprint=1 << 10) == pytest.approx(40)  # in cache: cache speed
    assert FAKE.bandwidth_at(1 << 30) == 20
    assert 20 < FAKE.bandwidth_at(1 << 20) < 400
    assert Peaks.from_json(json.loads(json.dumps(FAKE.to_json()))) == FAKE


def test_roofline_point_of_a_kernel():
    kernel = tvmprims.build("matmul", (64, 64), (64, 64))
    timing = kernel.time(repeat=2, min_repeat_ms=20)
    point = kernel_roofline(kernel, timing, FAKE)
    assert point.flops == point.executed_flops == 2 * 64 ** 3
    assert point.bytes == 3 * 64 * 64 * 4
    assert point.gflops == pytest.approx(timing.gflops)
    # 48 KiB in cache at 400 GB/s: intensity 10.7 -> compute-bound at 100 GFLOP/s.
    assert point.bound == "compute" and point.roof_gflops == 100
    assert point.percent_of_roof == pytest.approx(timing.gflops)
    assert "% of the compute roof" in str(point)
    memory = roofline_point(tvmprims.ops.dense.workload((1, 4096), (4096, 4096)), 1e-3, FAKE)
    assert memory.bound == "memory" and memory.roof_gflops == pytest.approx(
        memory.intensity * 20)
    with pytest.raises(ValueError, match="seconds must be positive"):
        roofline_point(kernel.workload, 0, FAKE)


def test_measured_peaks_are_sane():
    measured = measure_peaks(quick=True)
    # x86 cores do at most two 512-bit FMAs per cycle (64 FLOP/cycle at float32).
    assert 1 < measured.gflops_core < 64 * 6
    assert measured.gflops > 0.8 * measured.gflops_core
    assert measured.gflops < measured.cores * 64 * 6
    assert [row[0] for row in measured.bandwidth] == list(peaks_mod.QUICK_SWEEP_BYTES)
    for _, one, every in measured.bandwidth:
        assert 0.5 < one < 5000 and one <= every < 5000
    assert measured.cache_gbps > measured.dram_gbps  # the smallest set stays in L1
    assert 0.05 < measured.ridge < 200


def test_peaks_are_cached_and_a_corrupt_cache_is_remeasured(tmp_path, monkeypatch):
    path = tmp_path / "peaks.json"
    monkeypatch.setenv("TVMPRIMS_PEAKS_CACHE", str(path))
    calls = []
    here = replace(FAKE, target=target_key(resolve_target("llvm")), quick=True)
    monkeypatch.setattr(peaks_mod, "measure_peaks", lambda *a, **k: calls.append(a) or here)
    assert machine_peaks(quick=True) == here and machine_peaks(quick=True) == here
    assert len(calls) == 1 and path.exists()
    path.write_text("{ not json")
    with pytest.warns(UserWarning, match="ignoring unreadable peaks cache"):
        assert machine_peaks(quick=True) == here
    assert len(calls) == 2
    assert machine_peaks(quick=True, refresh=True) == here and len(calls) == 3
    # Peaks raised later (remember_peaks) are what the cache serves next.
    peaks_mod.remember_peaks(replace(here, gflops=123.0))
    assert machine_peaks(quick=True).gflops == 123.0 and len(calls) == 3
    assert machine_peaks(quick=False) == here and len(calls) == 4  # a quick sweep is not full


def test_a_roof_that_a_kernel_beat_is_measured_again(tmp_path, monkeypatch):
    monkeypatch.setenv("TVMPRIMS_PEAKS_CACHE", str(tmp_path / "peaks.json"))
    measured_low = replace(FAKE, target=target_key(resolve_target("llvm")), gflops=0.5,
                           gflops_core=0.5, quick=True)
    assert peaks_mod.raise_compute_roof(measured_low, 0.52) is measured_low  # within noise
    lines = []
    raised = peaks_mod.raise_compute_roof(measured_low, 1.0, tries=1, report=lines.append)
    assert raised.gflops > 1.0 and raised.gflops_core > 1.0  # any CPU beats 1 GFLOP/s
    assert raised.bandwidth == measured_low.bandwidth and raised.device == measured_low.device
    assert "above the measured peak of 0.5" in lines[0]
    assert machine_peaks(quick=True) == raised  # kept in the cache
    assert not any("not to be trusted" in line for line in lines)
    lines.clear()
    beyond = peaks_mod.raise_compute_roof(measured_low, 1e9, tries=1, report=lines.append)
    assert 1.0 < beyond.gflops < 1e9 and "not to be trusted" in lines[-1]
    with pytest.raises(ValueError, match="peaks of llvm-test-1c cannot be re-measured"):
        peaks_mod.raise_compute_roof(FAKE, 1e3)


def test_kernel_roofline_measures_a_beaten_cached_peak_again(tmp_path, monkeypatch):
    monkeypatch.setenv("TVMPRIMS_PEAKS_CACHE", str(tmp_path / "peaks.json"))
    here = replace(FAKE, target=target_key(resolve_target("llvm")), gflops=0.5, gflops_core=0.5)
    peaks_mod.remember_peaks(here)
    kernel = tvmprims.build("matmul", (64, 64), (64, 64))
    timing = kernel.time(repeat=2, min_repeat_ms=20)
    assert timing.gflops > 0.5 * 1.05
    point = kernel_roofline(kernel, timing)
    cached = machine_peaks()
    assert cached.gflops > timing.gflops / 1.05 and cached.bandwidth == here.bandwidth
    assert point.bound == "compute" and point.roof_gflops == cached.gflops


def test_peak_kernels_compile_for_cuda():
    from tvmprims._tvm import Schedule, compile_module, create_prim_func, cuda_source
    from tvmprims.schedules.cuda import roofline as cuda_roofline
    from tvmprims.target import resolve_target
    target = resolve_target("cuda")
    sch = Schedule(create_prim_func(kernels.peak_fma(132 * 256 * 8, 4, 64)))
    cuda_roofline.schedule_peak_fma(sch, 8)
    source = cuda_source(compile_module(sch.mod, target).mod)
    inner = source[source.index("for (int r"):]
    inner = inner[:inner.index("}")]
    assert inner.count("fma_local_ptr[") == 2 * 8 and "x_ptr" not in inner  # registers only
    sch = Schedule(create_prim_func(kernels.stream_triad(1 << 20)))
    cuda_roofline.schedule_stream_triad(sch)
    assert "threadIdx.x" in cuda_source(compile_module(sch.mod, target).mod)


def test_cuda_peaks_need_a_gpu(has_cuda):
    if has_cuda:
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        measure_peaks("cuda", quick=True)


@pytest.mark.cuda
def test_cuda_peaks_are_sane():
    measured = measure_peaks("cuda", quick=True)
    assert 100 < measured.gflops < 500_000 and 10 < measured.dram_gbps < 20_000


# --- Models ---------------------------------------------------------------------------------

class _Tiny(torch.nn.Module):
    """Every layer kind the analysis handles: strided, dilated, grouped, depthwise, no bias."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.dilated = torch.nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=2, bias=False)
        self.depthwise = torch.nn.Conv2d(8, 16, 3, padding=1, groups=8)
        self.fc = torch.nn.Linear(16, 10)

    def forward(self, x):
        x = self.depthwise(self.dilated(torch.relu(self.conv(x))))
        return self.fc(x.mean(dim=(2, 3)))


def test_model_layers_by_hand_and_against_torch(rng):
    model = _Tiny().eval()
    layers = models.model_layers(model, batch=2, image=9)
    assert [l.name for l in layers] == ["conv", "dilated", "depthwise", "fc"]
    assert [l.kind for l in layers] == ["conv2d", "conv2d", "depthwise_conv2d", "dense"]
    # conv: 2x8x5x5 outputs of 27 multiply-adds plus a bias; dilated: 2x8x5x5 of 36 (4 input
    # channels per group); depthwise: 2x16x5x5 of 9 plus bias; fc: 2x10 of 16 plus bias.
    expected = [2 * 400 * 27 + 400, 2 * 400 * 36, 2 * 800 * 9 + 800, 2 * 20 * 16 + 20]
    assert [l.flops for l in layers] == expected
    assert sum(l.flops - l.bias_flops for l in layers) == models.torch_flops(model, 2, 9)
    summary = models.summarize("tiny", model, layers, 2, 9)
    assert summary.params == sum(l.params for l in layers) == sum(
        p.numel() for p in model.parameters())
    assert summary.activation_bytes == (400 + 400 + 800 + 20) * 4
    # Each layer's workload computes what the torch module computes.
    outputs = {}

    def keep(name):
        def hook(module, inputs, output):
            outputs[name] = (inputs[0].numpy().copy(), output.numpy().copy())
        return hook

    hooks = [m.register_forward_hook(keep(name)) for name, m in model.named_children()]
    with torch.inference_mode():
        model(torch.from_numpy(rng.standard_normal((2, 3, 9, 9)).astype(np.float32)))
    for h in hooks:
        h.remove()
    for layer in layers:
        module = getattr(model, layer.name)
        x, expected_out = outputs[layer.name]
        w = module.weight.detach().numpy()
        w = np.ascontiguousarray(w.T) if layer.kind == "dense" else w
        args = [x, w] + ([] if module.bias is None else [module.bias.detach().numpy()])
        got = build_workload(layer.workload)(*args)
        np.testing.assert_allclose(got, expected_out, rtol=1e-4, atol=1e-5)


def test_every_model_matches_torchs_flop_counter():
    assert len(models.MODELS) >= 10
    for name in models.MODELS:
        model = models.build_model(name)
        layers = models.model_layers(model)
        ours = sum(l.flops - l.bias_flops for l in layers)
        assert ours == models.torch_flops(model), name


def test_model_errors():
    with pytest.raises(ValueError, match="unknown torchvision model 'resnet19'"):
        models.build_model("resnet19")
    seq = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"))
    with pytest.raises(ValueError, match="padding_mode 'reflect'"):
        models.model_layers(seq, image=8)


def test_layers_run_with_their_best_algorithm():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Flatten(),
                                torch.nn.Linear(8 * 6 * 6, 3)).eval()
    layers = models.model_layers(model, image=6)
    results = models.run_layers(layers, FAKE, repeat=1, min_repeat_ms=5)
    (conv, algo, point), (fc, fc_algo, fc_point) = results
    assert algo in tvmprims.api.CONV2D_OPERATORS and fc_algo == "dense"
    assert point.label == conv.name and point.flops == conv.flops and point.seconds > 0
    assert fc_point.executed_flops == fc.flops


# --- The study ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("roofline")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cli.main(["roofline", "--quick", "--out", str(out),
                         "--models", "resnet18,mobilenet_v2,squeezenet1_1",
                         "--latency-models", "squeezenet1_1", "--batches", "1,2"]) == 0
    return out


def test_study_files(study):
    for name in ("bandwidth", "roofline_operators", "roofline_layers", "latency"):
        assert (study / f"{name}.png").stat().st_size > 10_000, name
    peaks = _read(study / "peaks.csv")
    assert peaks[0]["chip"].endswith("(measured)") and float(peaks[0]["gflops"]) > 1
    assert len(peaks) > 3  # published peaks beside the measured ones


def test_study_points(study):
    ops = _read(study / "operators.csv")
    assert {r["op"] for r in ops} >= {"matmul", "conv2d", "depthwise_conv2d", "convolve",
                                      "conv2d_winograd"}
    measured = _read(study / "peaks.csv")[0]
    for r in ops:
        # The study measures the peak again when a kernel beats it: a point far above its
        # roof is a miscounted FLOP or byte.
        assert 0 < float(r["percent_of_roof"]) < 150, r
        assert float(r["percent_of_roof"]) == pytest.approx(
            100 * float(r["executed_gflops"]) / float(r["roof_gflops"]))
        if r["bound"] == "compute":
            assert float(r["roof_gflops"]) == pytest.approx(float(measured["gflops"]), abs=0.05)
        assert float(r["gflops"]) == pytest.approx(float(r["flops"]) / float(r["seconds"]) / 1e9)
    layers = _read(study / "layer_points.csv")
    assert len(layers) == 21 and {r["kind"] for r in layers} == {"conv2d", "dense"}
    models_rows = _read(study / "models.csv")
    assert [r["model"] for r in models_rows] == ["resnet18", "mobilenet_v2", "squeezenet1_1"]
    assert all(r["flops_match_torch"] == "True" for r in models_rows)
    resnet = models_rows[0]
    assert int(resnet["params"]) == 11_689_512 and int(resnet["torch_flops"]) == 3_628_146_688
    latency = _read(study / "latency.csv")
    assert [(r["model"], r["batch"]) for r in latency] == [("squeezenet1_1", "1"),
                                                          ("squeezenet1_1", "2")]
    assert all(float(r["latency_ms"]) > 0 for r in latency)
