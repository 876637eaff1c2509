"""``tvmprims bench --algorithms``: every algorithm of an operator side by side, same run.

Convolution layers (ResNet-18 and VGG-16 3x3 layers at batch 1, and a kernel-size sweep for
the FFT) run with every conv2d algorithm, the Winograd kernels also with the filter transform
done once beforehand (``winograd2-pre``, ``winograd4-pre``: inference with fixed weights), ``algo="auto"``'s
choice, and torch. Matrix products run direct, in the log domain and with low-rank factors.
Times are TVM ``time_evaluator`` minima (hand schedules); GFLOP/s count the *direct*
algorithm's FLOPs for every column, so they compare as speeds.
"""

import time
from dataclasses import dataclass

import numpy as np

from .algorithms import algorithm_of, choose_algorithm
from .api import build
from .bench import geomean
from .build import build_workload
from .ops._checks import NotApplicable
from .ops.registry import CONV2D_ALGORITHM_TABLE, conv2d_workload
from .target import resolve_target
from .timing import best_time

__all__ = ["ConvLayer", "RESNET18", "VGG16", "KERNEL_SWEEP", "CONV_LAYERS", "QUICK_LAYERS",
           "run_conv", "format_conv", "run_matmul", "format_matmul"]


@dataclass(frozen=True)
class ConvLayer:
    """A batch-1 conv2d layer: ``c`` channels of ``h x h`` in, ``o`` out, ``k x k`` kernel,
    "same" padding (``k // 2``) unless given."""

    group: str
    c: int
    h: int
    o: int
    k: int = 3
    stride: int = 1
    padding: int = None

    def __post_init__(self):
        if self.padding is None:
            object.__setattr__(self, "padding", self.k // 2)

    @property
    def label(self):
        s = f" s{self.stride}" if self.stride > 1 else ""
        return f"{self.c}x{self.h}x{self.h}>{self.o} {self.k}x{self.k}{s}"

    @property
    def shapes(self):
        return (1, self.c, self.h, self.h), (self.o, self.c, self.k, self.k)


RESNET18 = tuple(ConvLayer("resnet18", c, h, c) for c, h in ((64, 56), (128, 28), (256, 14),
                                                             (512, 7)))
#: VGG-16's distinct 3x3 layers (13 layers, 9 shapes).
VGG16 = tuple(ConvLayer("vgg16", c, h, o) for c, h, o in (
    (3, 224, 64), (64, 224, 64), (64, 112, 128), (128, 112, 128), (128, 56, 256),
    (256, 56, 256), (256, 28, 512), (512, 28, 512), (512, 14, 512)))
#: Kernel sizes 1 to 15 on one image, "same" padding: where the FFT overtakes direct.
KERNEL_SWEEP = tuple(ConvLayer("kernels", 16, 64, 16, k) for k in (1, 3, 5, 7, 9, 11, 15))
CONV_LAYERS = RESNET18 + VGG16 + KERNEL_SWEEP
QUICK_LAYERS = (ConvLayer("resnet18", 64, 56, 64), ConvLayer("kernels", 16, 64, 16, 9))

#: Columns of the conv table, in order.
PRETRANSFORMED = {"winograd2-pre": 2, "winograd4-pre": 4}
CONV_COLUMNS = (*CONV2D_ALGORITHM_TABLE, *PRETRANSFORMED)


def _winograd_pretransformed(layer, tile, target):
    """``(kernel, inputs)`` of Winograd F(tile x tile, 3x3) on a filter transformed
    beforehand (by the ``winograd_weight`` kernel)."""
    x_shape, w_shape = layer.shapes
    weight_kernel = build("winograd_weight", w_shape, tile=tile, target=target)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    u = weight_kernel(rng.standard_normal(w_shape).astype(np.float32))
    kernel = build("conv2d_winograd", x_shape, u.shape, padding=layer.padding, tile=tile,
                   pretransformed=True, target=target)
    return kernel, (x, u)


def _conv_time(layer, algo, target):
    """Seconds of one algorithm on ``layer``, or a string saying why it does not apply."""
    if algo in PRETRANSFORMED:
        if layer.k != 3 or layer.stride != 1:
            return "n/a"
        kernel, inputs = _winograd_pretransformed(layer, PRETRANSFORMED[algo], target)
        return kernel.time(*inputs).seconds
    try:
        wl = conv2d_workload(*layer.shapes, None, "float32", layer.stride, layer.padding,
                             algo=algo)
    except NotApplicable:
        return "n/a"
    return build_workload(wl, target, "auto").time().seconds


def run_conv(layers=CONV_LAYERS, target="llvm", progress=print):
    """One row per layer: seconds per algorithm, auto's choice and time, torch's time."""
    import torch

    torch.set_num_threads(int(resolve_target(target).attrs.get("num-cores", 1)))
    rows = []
    for i, layer in enumerate(layers, 1):
        progress(f"[{i}/{len(layers)}] conv2d {layer.label} ...")
        direct = conv2d_workload(*layer.shapes, None, "float32", layer.stride, layer.padding)
        row = {"group": layer.group, "layer": layer.label, "gflop": direct.flops / 1e9}
        for algo in CONV_COLUMNS:
            row[algo] = _conv_time(layer, algo, target)
        chosen = choose_algorithm(direct, target, "auto")
        row["auto_algo"] = algorithm_of(chosen)
        row["auto"] = build_workload(chosen, target, "auto").time().seconds
        x, w = (torch.randn(s) for s in layer.shapes)
        time.sleep(0.5)  # let TVM's spinning pool threads go idle before torch runs
        row["torch"] = best_time(lambda: torch.nn.functional.conv2d(
            x, w, stride=layer.stride, padding=layer.padding))
        rows.append(row)
    return rows


def _cell(value):
    return f"{value * 1e3:.3f}" if isinstance(value, float) else value


def _best_winograd(row):
    times = [row[a] for a in ("winograd2", "winograd4", *PRETRANSFORMED)
             if isinstance(row[a], float)]
    return min(times) if times else None


def format_conv(rows, markdown=False):
    """The conv table (ms), then per row direct/best-Winograd and direct/auto speed-ups."""
    cols = [*CONV_COLUMNS, "auto", "torch"]
    head = ["layer", "GFLOP", *[f"{c} ms" for c in cols], "auto algo", "direct/winograd",
            "direct/auto", "torch/best"]
    lines = []
    for r in rows:
        wino = _best_winograd(r)
        best = min(v for k, v in r.items() if k in cols and isinstance(v, float))
        lines.append([r["layer"], f"{r['gflop']:.3f}", *[_cell(r[c]) for c in cols],
                      r["auto_algo"], f"{r['direct'] / wino:.2f}x" if wino else "-",
                      f"{r['direct'] / r['auto']:.2f}x", f"{r['torch'] / best:.2f}x"])
    summary = []
    for group in dict.fromkeys(r["group"] for r in rows):
        sel = [r for r in rows if r["group"] == group]
        wins = [r["direct"] / _best_winograd(r) for r in sel if _best_winograd(r)]
        fft = [r["layer"] for r in sel if isinstance(r["fft"], float) and r["fft"] < r["direct"]]
        summary.append(
            f"{group}: direct/auto geomean {geomean(r['direct'] / r['auto'] for r in sel):.2f}x"
            + (f", direct/best Winograd geomean {geomean(wins):.2f}x" if wins else "")
            + f"; FFT faster than direct on: {', '.join(fft) or 'none'}")
    if markdown:
        table = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
        table += ["| " + " | ".join(line) + " |" for line in lines]
        return "\n".join(table + [""] + [f"- {s}" for s in summary])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*head)] + [fmt.format(*line) for line in lines] + [""]
                     + summary)


#: (label, M, K, N, rank of A for the low-rank column).
MATMUL_CASES = (("256^3", 256, 256, 256, 32), ("512^3", 512, 512, 512, 64),
                ("1024^3", 1024, 1024, 1024, 128))


def run_matmul(cases=MATMUL_CASES, target="llvm", progress=print):
    """Seconds of direct, log, log-approx (3 bits) and rank-r matmul, and numpy's."""
    rows = []
    for i, (label, m, k, n, rank) in enumerate(cases, 1):
        progress(f"[{i}/{len(cases)}] matmul {label} ...")
        rng = np.random.default_rng(0)
        a, b = (rng.standard_normal(s).astype(np.float32) for s in ((m, k), (k, n)))
        row = {"shape": label, "rank": rank, "gflop": 2 * m * k * n / 1e9}
        row["direct"] = build("matmul", (m, k), (k, n), target=target).time().seconds
        row["log"] = build("matmul_log", (m, k), (k, n), target=target).time().seconds
        row["log-approx"] = build("matmul_log", (m, k), (k, n), bits=3,
                                  target=target).time().seconds
        row["lowrank"] = (build("matmul", (rank, k), (k, n), target=target).time().seconds
                          + build("matmul", (m, rank), (rank, n), target=target).time().seconds)
        time.sleep(0.5)
        row["numpy"] = best_time(lambda: a @ b)
        rows.append(row)
    return rows


def format_matmul(rows, markdown=False):
    cols = ("direct", "log", "log-approx", "lowrank", "numpy")
    head = ["shape", "GFLOP", *[f"{c} ms" for c in cols], "direct GFLOP/s", "direct/lowrank"]
    lines = [[r["shape"], f"{r['gflop']:.3f}", *[_cell(r[c]) for c in cols],
              f"{r['gflop'] / r['direct']:.1f}", f"{r['direct'] / r['lowrank']:.2f}x"]
             for r in rows]
    note = "lowrank: A replaced by rank-r factors (r = M/8), L @ (R @ B)"
    if markdown:
        return "\n".join(["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
                         + ["| " + " | ".join(line) + " |" for line in lines] + ["", f"- {note}"])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    return "\n".join([fmt.format(*head)] + [fmt.format(*line) for line in lines] + ["", note])
