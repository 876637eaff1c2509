"""Measured conv2d algorithm tables: the data :mod:`tvmprims.algorithm_heuristic` is fitted to.

:func:`sample_layers` picks distinct Conv2d layers of torchvision models;
:func:`measure` runs :func:`tvmprims.find_algorithms` on each and yields one
:class:`MeasuredRow` per (layer, algorithm); :func:`write_csv` / :func:`read_csv` keep them as a
small CSV (``docs/algorithm_choice/measured.csv`` is the shipped one). Times only compare
within one layer (one search): the machine may be shared and its speed may drift.

Reproduce the shipped table: ``python -m tvmprims.algorithm_table docs/algorithm_choice/measured.csv``.
"""

import csv
import json
import sys
import time
from dataclasses import dataclass

from .workload import Workload

__all__ = ["MeasuredRow", "SAMPLE", "sample_layers", "measure", "write_csv", "read_csv",
           "by_layer"]


@dataclass(frozen=True)
class MeasuredRow:
    """One algorithm on one layer: ``seconds`` None unless ``status`` is ``"ok"``.

    ``layer`` is the direct workload as JSON (:meth:`~tvmprims.workload.Workload.to_json`),
    ``source`` where the layer comes from (``model/layer name@batch``); ``status`` is
    ``"ok"`` or the first word(s) of :attr:`tvmprims.algorithms.AlgorithmResult.status`
    (``not applicable``, ``skipped``, ``inaccurate``, ``failed``)."""

    source: str
    layer: str
    algo: str
    status: str
    seconds: float = None

    @property
    def workload(self):
        return Workload.from_json(json.loads(self.layer))

    @property
    def ok(self):
        return self.status == "ok"


#: (model, batch, which distinct layers): ``None`` takes every distinct Conv2d layer, an int
#: ``k`` every k-th one (in order of first use).
SAMPLE = (("resnet18", 1, None), ("mobilenet_v2", 1, None), ("resnet50", 1, 4),
          ("vgg16", 1, 2), ("alexnet", 1, None), ("densenet121", 1, 12), ("googlenet", 1, 8),
          ("resnet18", 8, 3), ("mobilenet_v2", 8, 6))


#: Layers no sampled model has, ``(name, x shape, weight shape, stride, padding)``: large
#: kernels (where the FFT can win; tvmprims bench --algorithms' sweep), small images and
#: channel counts, a long 1-D signal (conv1d).
EXTRA = (*((f"kernels/{k}x{k}", (1, 16, 64, 64), (16, 16, k, k), 1, k // 2) for k in (5, 9, 15)),
         ("small/8x13x11", (1, 8, 13, 11), (6, 8, 3, 3), 1, 1),
         ("small/32x9x9", (2, 32, 9, 9), (32, 32, 3, 3), 1, 1),
         ("small/3x32x32", (4, 3, 32, 32), (16, 3, 5, 5), 1, 2),
         ("conv1d/16x4096k3", (1, 16, 1, 4096), (16, 16, 1, 3), 1, (0, 1)),
         ("conv1d/8x2048k31", (1, 8, 1, 2048), (8, 8, 1, 31), 1, (0, 15)))


def sample_layers(sample=SAMPLE, image=224, extra=EXTRA):
    """``[(source, direct workload), ...]``: distinct Conv2d layers of torchvision models
    (random weights, nothing downloaded), each layer shape once, then the ``extra`` ones."""
    from .ops.registry import conv2d_workload
    from .roofline.models import build_model, model_layers
    seen, out = set(), []
    for model, batch, every in sample:
        distinct = {}
        for layer in model_layers(build_model(model), batch, image):
            if layer.kind != "dense":
                distinct.setdefault(layer.workload, layer.name)
        for i, (wl, name) in enumerate(distinct.items()):
            if (every is None or i % every == 0) and wl not in seen:
                seen.add(wl)
                out.append((f"{model}/{name}@{batch}", wl))
    for name, x_shape, w_shape, stride, padding in extra:
        out.append((name, conv2d_workload(x_shape, w_shape, None, "float32", stride, padding)))
    return out


def measure(layers, target=None, report=None):
    """Yield :class:`MeasuredRow` per algorithm of each ``(source, direct workload)``, layer by
    layer (:func:`tvmprims.find_algorithms`: compiled, checked against direct, timed)."""
    from .algorithms import find_algorithms
    from .ops.registry import layer_args
    for i, (source, wl) in enumerate(layers, 1):
        start = time.perf_counter()
        rows = find_algorithms(*layer_args(wl), dtype=wl.dtype, target=target)
        layer = json.dumps(wl.to_json(), sort_keys=True, separators=(",", ":"))
        for r in rows:
            yield MeasuredRow(source, layer, r.algo, r.status.split(":")[0], r.seconds)
        if report:
            best = ", ".join(f"{r.algo} {r.seconds * 1e3:.3f}" for r in rows if r.ok)
            report(f"[{i}/{len(layers)}] {source} {wl.describe()}: {best} ms "
                   f"({time.perf_counter() - start:.1f} s)")


def write_csv(rows, path, append=False):
    """Write :class:`MeasuredRow` rows to ``path``, a line per layer: ``source``, ``layer``
    (compact JSON), then per algorithm its milliseconds, or its status when it did not run
    (a header unless appending)."""
    from .ops.registry import CONV2D_ALGORITHM_TABLE
    layers = {}
    for r in rows:
        cells = layers.setdefault((r.source, r.layer), {})
        cells[r.algo] = f"{r.seconds * 1e3:.6g}" if r.ok else r.status
    with open(path, "a" if append else "w", newline="") as f:
        writer = csv.writer(f)
        if not append:
            writer.writerow(["source", "layer", *CONV2D_ALGORITHM_TABLE])
        for (source, layer), cells in layers.items():
            compact = json.dumps(json.loads(layer), sort_keys=True, separators=(",", ":"))
            writer.writerow([source, compact, *(cells.get(a, "") for a in CONV2D_ALGORITHM_TABLE)])


def read_csv(path):
    """The :class:`MeasuredRow` rows of a CSV written by :func:`write_csv`."""
    rows = []
    with open(path, newline="") as f:
        for line in csv.DictReader(f):
            source, layer = line.pop("source"), line.pop("layer")
            for algo, cell in line.items():
                if not cell:
                    continue
                try:
                    rows.append(MeasuredRow(source, layer, algo, "ok", float(cell) / 1e3))
                except ValueError:
                    rows.append(MeasuredRow(source, layer, algo, cell))
    return rows


def by_layer(rows):
    """``{(source, direct workload): {algo: seconds or None}}`` in order."""
    out = {}
    for r in rows:
        out.setdefault((r.source, r.workload), {})[r.algo] = r.seconds if r.ok else None
    return out


def main(argv=None):
    """``python -m tvmprims.algorithm_table OUT.csv [START]``: measure :data:`SAMPLE` into
    OUT.csv, layer by layer (appending from layer START on, to resume an interrupted run)."""
    argv = sys.argv[1:] if argv is None else argv
    path, start = argv[0], int(argv[1]) if len(argv) > 1 else 0
    layers = sample_layers()
    if start == 0:
        write_csv([], path)
    for i, (source, wl) in enumerate(layers[start:], start):
        write_csv(measure([(source, wl)], report=lambda m, i=i: print(f"{i}: {m}", flush=True)),
                  path, append=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
