"""Roofline study (``tvmprims roofline``): measured roofs, operator and model-layer points,
model costs and latency.

1. **Peaks** of the target, measured now (:func:`tvmprims.roofline.peaks.measure_peaks`):
   ``peaks.csv`` (FLOP/s, bandwidth, ridge; published peaks of other chips beside them),
   ``bandwidth.csv`` and ``bandwidth.png`` (triad bandwidth by working set).
2. **Operators**: the ``tvmprims bench`` workloads and every convolution algorithm on the
   ResNet-18 64x56x56 layer, timed and placed on the roofline: ``operators.csv``,
   ``roofline_operators.png``. A kernel faster than the measured FLOP/s peak means the peak
   was measured low (the machine was busy then): it is measured again before the points are
   placed (:func:`tvmprims.roofline.peaks.raise_compute_roof`).
3. **Models**: the torchvision CNNs (``weights=None``) layer by layer: FLOPs, parameters,
   memory and intensity (``models.csv``, ``model_layers.csv``), their FLOPs checked against
   ``torch.utils.flop_counter.FlopCounterMode``. The convolution and linear layers of
   ``tvm_models`` run through tvmprims, each with its fastest algorithm:
   ``layer_points.csv``, ``roofline_layers.png``.
4. **Latency** of every model in torch (on the GPU for a cuda target), batch sizes 1 to 64,
   against FLOPs and parameters: ``latency.csv``, ``latency.png``.

``quick`` (CI): the short bandwidth sweep, the bench's quick workloads, ResNet-18's layers
with the direct algorithm only, and latency for three small models at batches 1 and 4.
"""

from pathlib import Path

from ..api import build_workload_from_shapes
from ..bench import QUICK, WORKLOADS
from ..build import build_workload
from ..ops.registry import CONV2D_ALGORITHM_TABLE, algorithm_workload, conv2d_workload
from ..roofline import models as _models
from ..roofline.analysis import roofline_point
from ..roofline.peaks import machine_peaks, raise_compute_roof
from ..roofline.plot import draw_bandwidth, draw_latency, draw_roofline
from ..roofline.published import PUBLISHED_PEAKS
from ..target import resolve_target, schedule_kind
from .output import new_figure, save_figure, write_csv

__all__ = ["run", "operator_workloads", "BATCHES", "QUICK_BATCHES"]

BATCHES = (1, 2, 4, 8, 16, 32, 64)
QUICK_BATCHES = (1, 4)
#: The conv2d algorithms placed on the roofline besides direct (every one of the registry's
#: table) and the one the quick study keeps.
ALGORITHMS = tuple(name for name in CONV2D_ALGORITHM_TABLE if name != "direct")
QUICK_ALGORITHMS = ("winograd4",)
#: Models whose layers run through tvmprims in the full study.
TVM_MODELS = ("resnet18", "mobilenet_v2")

_ALGORITHM_LAYER = ((1, 64, 56, 56), (64, 64, 3, 3))


def operator_workloads(quick=False):
    """``[(group, workload)]``: the bench workloads (its quick subset when ``quick``) and the
    ResNet-18 64x56x56 layer by every conv2d algorithm."""
    cases = [c for c in WORKLOADS if not quick or c.label in QUICK]
    found = [(c.group, build_workload_from_shapes(c.op, c.shapes, params=c.kwargs()))
             for c in cases]
    direct = conv2d_workload(*_ALGORITHM_LAYER, padding=1)
    for algo in QUICK_ALGORITHMS if quick else ALGORITHMS:
        found.append((f"64x56x56 3x3 {algo}", algorithm_workload(direct, algo)))
    return found


def _peak_rows(peaks):
    rows = [{"chip": f"{peaks.device} (measured)", "kind": peaks.target, "dtype": peaks.dtype,
             "gflops": round(peaks.gflops, 1),
             "gflops_one_core": round(peaks.gflops_core, 1) if peaks.gflops_core else "",
             "bandwidth_gbps": round(peaks.dram_gbps, 1),
             "cache_bandwidth_gbps": round(peaks.cache_gbps, 1),
             "ridge_flop_per_byte": round(peaks.ridge, 2),
             "source": "tvmprims peak_fma and stream_triad kernels"}]
    for p in PUBLISHED_PEAKS:
        rows.append({"chip": p.chip, "kind": p.kind, "dtype": p.dtype, "gflops": p.gflops,
                     "gflops_one_core": "", "bandwidth_gbps": p.bandwidth_gbps,
                     "cache_bandwidth_gbps": "",
                     "ridge_flop_per_byte": round(p.gflops / p.bandwidth_gbps, 2),
                     "source": p.source})
    return rows


def _operators(peaks, target, quick, out, report):
    """Times the operators and places them under ``peaks``, raised first if a kernel beat
    them (:func:`~tvmprims.roofline.peaks.raise_compute_roof`); returns the peaks used."""
    workloads = operator_workloads(quick)
    points = []
    for i, (_, wl) in enumerate(workloads, 1):
        kernel = build_workload(wl, target)
        timing = kernel.time(repeat=3 if quick else 5, min_repeat_ms=50 if quick else 200)
        point = roofline_point(wl, timing.seconds, peaks)
        points.append(point)
        report(f"[{i}/{len(workloads)}] {point}")
    raised = raise_compute_roof(peaks, max(p.executed_gflops for p in points), target,
                                report=report)
    if raised is not peaks:
        peaks = raised
        report(peaks.summary())
        points = [roofline_point(wl, p.seconds, peaks) for (_, wl), p in zip(workloads, points)]
    groups = [group for group, _ in workloads]
    write_csv(out / "operators.csv", [{"group": group, "op": wl.op, **point.row()}
                                      for point, (group, wl) in zip(points, workloads)])
    fig, (ax,) = new_figure(width=8, height=5.5)
    draw_roofline(ax, peaks, points, groups, f"tvmprims operators on {peaks.device}")
    save_figure(fig, out / "roofline_operators.png")
    return peaks


def _model_costs(names, out, report):
    summaries, layer_rows, built = [], [], {}
    for name in names:
        model = _models.build_model(name)
        layers = _models.model_layers(model)
        summary = _models.summarize(name, model, layers, 1, 224)
        counted = _models.torch_flops(model)
        ours = sum(layer.flops - layer.bias_flops for layer in layers)
        summaries.append({**summary.row(), "torch_flops": counted,
                          "flops_match_torch": ours == counted})
        layer_rows += [{"model": name, **layer.row()} for layer in layers]
        built[name] = (model, layers, summary)
        report(f"{name}: {summary.flops / 1e9:.2f} GFLOPs, {summary.params / 1e6:.2f} M params, "
               f"{summary.memory_bytes / 2**20:.0f} MiB, intensity {summary.intensity:.1f}; "
               f"FlopCounterMode {'agrees' if ours == counted else f'says {counted}'}")
    write_csv(out / "models.csv", summaries)
    write_csv(out / "model_layers.csv", layer_rows)
    return built


def _layer_points(built, names, peaks, target, quick, out, report):
    rows, points, groups = [], [], []
    for name in names:
        _, layers, _ = built[name]
        results = _models.run_layers(layers, peaks, target, algo="direct" if quick else "auto",
                                     repeat=2 if quick else 3,
                                     min_repeat_ms=20 if quick else 100, report=report)
        for layer, algo, point in results:
            rows.append({"model": name, "kind": layer.kind, "algorithm": algo, **point.row()})
            points.append(point)
            groups.append(f"{name} {layer.kind}")
        total = sum(point.seconds for _, _, point in results)
        report(f"{name}: conv and linear layers {total * 1e3:.2f} ms in tvmprims at batch 1")
    write_csv(out / "layer_points.csv", rows)
    fig, (ax,) = new_figure(width=8, height=5.5)
    draw_roofline(ax, peaks, points, groups, f"Model layers on {peaks.device} (batch 1)")
    save_figure(fig, out / "roofline_layers.png")
    return rows


def _latency(built, names, batches, target, out, report):
    import torch
    target = resolve_target(target)
    device = "cuda" if schedule_kind(target) == "cuda" and torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(int(target.attrs.get("num-cores", 1)))
    rows = []
    for name in names:
        model, _, summary = built[name]
        for batch in batches:
            seconds = _models.torch_latency(model, batch, device=device)
            flops = summary.flops * batch
            rows.append({"model": name, "device": device, "batch": batch, "flops": flops,
                         "params": summary.params,
                         "latency_ms": seconds * 1e3, "gflops": flops / seconds / 1e9})
            report(f"torch {name} batch {batch}: {seconds * 1e3:.2f} ms "
                   f"({flops / seconds / 1e9:.1f} GFLOP/s)")
    write_csv(out / "latency.csv", rows)
    fig, axes = new_figure(ncols=2, width=6, height=4.5)
    draw_latency(axes, rows)
    save_figure(fig, out / "latency.png")
    return rows


def run(quick=False, out_dir="results", report=print, target="llvm", models=None,
        tvm_models=None, batches=None, latency_models=None):
    """Run the study; writes the CSV and PNG files listed in the module docstring to
    ``out_dir`` and returns the measured :class:`~tvmprims.roofline.peaks.Peaks`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    models = tuple(models or _models.MODELS)
    tvm_models = tuple(tvm_models or (("resnet18",) if quick else TVM_MODELS))
    latency_models = tuple(latency_models or (_models.QUICK_MODELS if quick else models))
    batches = tuple(batches or (QUICK_BATCHES if quick else BATCHES))
    unknown = sorted(set(tvm_models + latency_models) - set(models))
    if unknown:
        models += tuple(unknown)

    report("measuring peaks ...")
    peaks = machine_peaks(target, quick=quick, refresh=True, report=report)
    report(peaks.summary())
    write_csv(out / "bandwidth.csv", [{"bytes": b, "gbps_one_core": one, "gbps_all_cores": every}
                                      for b, one, every in peaks.bandwidth])
    fig, (ax,) = new_figure()
    draw_bandwidth(ax, peaks)
    save_figure(fig, out / "bandwidth.png")

    report("operators ...")
    peaks = _operators(peaks, target, quick, out, report)
    write_csv(out / "peaks.csv", _peak_rows(peaks))
    report("model costs ...")
    built = _model_costs(models, out, report)
    report("model layers through tvmprims ...")
    _layer_points(built, tvm_models, peaks, target, quick, out, report)
    report("latency against batch size ...")
    _latency(built, latency_models, batches, target, out, report)
    return peaks
