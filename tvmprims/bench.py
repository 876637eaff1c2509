"""``tvmprims bench``: every operator against numpy or torch, measured in the same run.

Kernel times come from TVM's ``time_evaluator`` (best of repeats); reference times from the
best of repeated ``perf_counter`` calls. ``ratio`` is reference time / the best tvmprims
time (hand, or tuned where ``tuning_logs/`` has a record): above 1 means tvmprims is faster.
"""

import time
from dataclasses import dataclass

import numpy as np

from .api import build
from .target import host_cpu_model, resolve_target, schedule_kind, target_key
from .timing import best_time, geomean

__all__ = ["BenchCase", "WORKLOADS", "QUICK", "run", "format_table", "markdown_report",
           "call_overhead", "group_geomeans", "geomean", "best_time"]


@dataclass(frozen=True)
class BenchCase:
    """One benchmark row: a tvmprims operator call and the reference it is compared with."""

    group: str
    label: str
    op: str
    shapes: tuple
    params: tuple = ()

    def kwargs(self):
        return dict(self.params)


def _conv(group, c, h, stride=1, depthwise=False):
    w = (c, 1, 3, 3) if depthwise else (c, c, 3, 3)
    op = "depthwise_conv2d" if depthwise else "conv2d"
    label = f"{c}x{h}x{h} 3x3" + (f" s{stride}" if stride > 1 else "")
    return BenchCase(group, label, op, ((1, c, h, h), w), (("padding", 1), ("stride", stride)))


#: The workloads of the issue: GEMM, ResNet-18 3x3 layers, MobileNetV2 depthwise layers and
#: 1-D convolutions, all at batch 1.
WORKLOADS = (
    *(BenchCase("gemm", f"{n}^3", "matmul", ((n, n), (n, n))) for n in (256, 512, 1024, 2048)),
    *(_conv("resnet18", c, h) for c, h in ((64, 56), (128, 28), (256, 14), (512, 7))),
    *(_conv("mobilenetv2-dw", c, h, s, depthwise=True)
      for c, h, s in ((32, 112, 1), (144, 56, 2), (192, 28, 1), (384, 14, 1), (960, 7, 1))),
    *(BenchCase("convolve", f"{n}*{m} full", "convolve", ((n,), (m,)), (("mode", "full"),))
      for n, m in ((1024, 1024), (10000, 1024))),
)

#: The subset ``--quick`` runs (CI): one workload per group.
QUICK = ("256^3", "64x56x56 3x3", "144x56x56 3x3 s2", "10000*1024 full")


def reference(case, arrays, device="cpu"):
    """``(name, callable)``: the computation ``case`` is compared with. On the CPU: numpy
    for matmul and convolve, torch for convolutions. On ``device="cuda"``: torch on the GPU
    (cuBLAS, cuDNN) for all of them, the callable synchronising so that its time is the
    kernel's."""
    if device == "cpu" and case.op in ("matmul", "convolve"):
        a, b = arrays
        if case.op == "matmul":
            return "numpy", lambda: np.matmul(a, b)
        return "numpy", lambda: np.convolve(a, b, case.kwargs()["mode"])
    compute = torch_reference(case, arrays, device)
    if device == "cpu":
        return "torch", compute
    import torch
    return "torch-cuda", lambda: (compute(), torch.cuda.synchronize())


def torch_reference(case, arrays, device="cpu"):
    """A callable computing ``case`` with torch on ``device`` (the arrays copied there once);
    it returns a torch tensor of the operator's output."""
    import torch
    F = torch.nn.functional
    x, w = (torch.from_numpy(a).to(device) for a in arrays)
    kw = case.kwargs()
    if case.op == "matmul":
        return lambda: torch.matmul(x, w)
    if case.op == "convolve":  # np.convolve: a correlation with the reversed taps
        if w.numel() > x.numel():  # np.convolve is symmetric in its arguments
            x, w = w, x
        m = w.numel()
        left = {"full": m - 1, "same": m // 2, "valid": 0}[kw["mode"]]
        right = {"full": m - 1, "same": m - 1 - m // 2, "valid": 0}[kw["mode"]]
        signal, taps = F.pad(x.view(1, 1, -1), (left, right)), w.flip(0).view(1, 1, -1)
        return lambda: F.conv1d(signal, taps).view(-1)
    groups = x.shape[1] if case.op == "depthwise_conv2d" else 1
    return lambda: F.conv2d(x, w, stride=kw["stride"], padding=kw["padding"], groups=groups)


def _ops_time(kernel, arrays, schedule):
    if kernel is None:
        return None
    if schedule == "none":  # unscheduled kernels are slow: one call is a fair estimate
        return kernel.time(*arrays, number=1, repeat=1).seconds
    return kernel.time(*arrays, repeat=5).seconds


def _kernel(case, target, schedule):
    """The case's kernel with ``schedule``; None for "tuned" when no log has a record."""
    if schedule != "tuned":
        return build(case.op, *case.shapes, target=target, schedule=schedule, **case.kwargs())
    kernel = build(case.op, *case.shapes, target=target, schedule="auto", **case.kwargs())
    return kernel if kernel.schedule == "tuned" else None


def run(cases=WORKLOADS, target="llvm", schedules=("none", "hand", "tuned"), progress=print):
    """Measure ``cases``; returns a list of row dicts (times in seconds).

    ``ratio`` and ``gflops`` are for the best of the scheduled kernels (hand, or tuned where
    a tuning log has a record); a schedule with no kernel has time ``None``.
    """
    import torch
    torch.set_num_threads(int(resolve_target(target).attrs.get("num-cores", 1)))
    rows = []
    for i, case in enumerate(cases, 1):
        progress(f"[{i}/{len(cases)}] {case.op} {case.label} ...")
        row = {"group": case.group, "op": case.op, "shape": case.label}
        kernels = {s: _kernel(case, target, s) for s in schedules}
        kernel = kernels["hand"] if "hand" in kernels else next(k for k in kernels.values() if k)
        arrays = kernel.random_inputs()
        # The reference runs first, after a pause: TVM's pool threads spin for a while after
        # a parallel kernel (the previous row's) and would steal cores from numpy/torch.
        time.sleep(0.5)
        name, fn = reference(case, arrays, schedule_kind(resolve_target(target)))
        row["reference"], row["ref"] = name, best_time(fn)
        for s in schedules:
            row[s] = _ops_time(kernels[s], arrays, s)
        best = min(row[s] for s in schedules if s != "none" and row[s] is not None)
        row["ratio"] = row["ref"] / best
        row["gflops"] = kernel.flops / best / 1e9
        row["ref_gflops"] = kernel.flops / row["ref"] / 1e9
        rows.append(row)
    return rows


def call_overhead(target="llvm"):
    """Seconds the numpy API adds to a call of a cached kernel, for a 1x1 matmul on plain
    numpy arrays: ``(api, kernel)``, the time of ``tvmprims.matmul(a, b)`` and of
    ``Kernel(a, b)`` minus that of the raw TVM call ``module["main"](a, b, c)`` on the same
    arrays (which TVM passes to the kernel without a copy)."""
    from .api import matmul
    a = np.ones((1, 1), np.float32)
    c = np.empty((1, 1), np.float32)
    kernel = build("matmul", (1, 1), (1, 1), target=target)
    raw = kernel.module["main"]
    base = best_time(lambda: raw(a, a, c))
    return (best_time(lambda: matmul(a, a, target=target)) - base,
            best_time(lambda: kernel(a, a)) - base)


def group_geomeans(rows):
    """``{group: geometric mean of its rows' ratios}``, groups in table order."""
    groups = dict.fromkeys(r["group"] for r in rows)
    return {g: geomean(r["ratio"] for r in rows if r["group"] == g) for g in groups}


def _ms(seconds, width=None):
    text = "-" if seconds is None else f"{seconds * 1e3:.3f}"
    return text.rjust(width) if width else text


def format_table(rows, schedules=("none", "hand", "tuned")):
    """Plain-text table; one line per row, then the geometric mean ratio per group."""
    head = f"{'operator':<17}{'shape':<20}" + "".join(f"{s + ' ms':>11}" for s in schedules)
    head += f"{'ref':>7}{'ref ms':>10}{'ratio':>8}{'GFLOP/s':>9}{'ref GF/s':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['op']:<17}{r['shape']:<20}" + "".join(_ms(r[s], 11) for s in schedules)
                     + f"{r['reference']:>7}{r['ref'] * 1e3:>10.3f}{r['ratio']:>8.2f}"
                     f"{r['gflops']:>9.1f}{r['ref_gflops']:>9.1f}")
    lines.append("")
    lines += [f"geometric mean ratio {g}: {m:.2f}x" for g, m in group_geomeans(rows).items()]
    return "\n".join(lines)


def machine_description(target="llvm"):
    import os
    return f"{host_cpu_model()}, {len(os.sched_getaffinity(0))} cores, TVM target {target_key(target)}"


def markdown_report(rows, overhead, target="llvm", schedules=("none", "hand", "tuned")):
    lines = [f"Machine: {machine_description(target)}", "",
             "| operator | shape | " + " | ".join(f"{s} ms" for s in schedules)
             + " | reference | ref ms | ratio | GFLOP/s | ref GFLOP/s |",
             "|---|---|" + "---:|" * (len(schedules) + 5)]
    for r in rows:
        lines.append(f"| {r['op']} | {r['shape']} | " + " | ".join(_ms(r[s]) for s in schedules)
                     + f" | {r['reference']} | {r['ref'] * 1e3:.3f} | {r['ratio']:.2f} | "
                     f"{r['gflops']:.1f} | {r['ref_gflops']:.1f} |")
    lines.append("")
    lines += [f"- geometric mean ratio, {g}: **{m:.2f}x**" for g, m in group_geomeans(rows).items()]
    lines.append(f"- call overhead above the raw TVM call (1x1 matmul, cached kernel): "
                 f"tvmprims.matmul {overhead[0] * 1e6:.1f} us, Kernel call "
                 f"{overhead[1] * 1e6:.1f} us")
    return "\n".join(lines)
