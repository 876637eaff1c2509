"""Measured conv2d algorithm tables: the data :mod:`tvmprims.algorithm_heuristic` is fitted to.

:func:`sample_layers` picks distinct Conv2d layers of torchvision models;
:func:`measure` runs :func:`tvmprims.find_algorithms` on each and yields one
:class:`MeasuredRow` per (layer, algorithm); :func:`write_csv` / :func:`read_csv` keep them as a
small CSV (``docs/algorithm_choice/measured.csv`` is the shipped one). Times only compare
within one layer (one search): the machine may be shared and its speed may drift.

It also fits :class:`~tvmprims.algorithm_heuristic.Rules` to a table (:func:`fit`) and says
how a choice compares with the measured fastest (:func:`evaluate`, :func:`cross_validate`).

Reproduce the shipped table and the rules:
``nice -n 5 python -m tvmprims.algorithm_table measure docs/algorithm_choice/measured.csv``, then
``python -m tvmprims.algorithm_table fit docs/algorithm_choice/measured.csv avx2``; for AVX-512
Zen 4's seven runs ``docs/algorithm_choice/measured_avx512*.csv`` (run 4 of the 1x1 layers
only, run 5 of the 3x3 layers on small planes: ``measure_small_planes.py`` there, ...),
merged (:func:`read_runs`; full grid); for AVX-512 with two FMAs a cycle the Xeon's three
tables ``docs/algorithm_choice/xeon_*.csv`` (``measure_xeon.py`` there; full grid).
"""

import csv
import itertools
import json
import sys
import time
from dataclasses import astuple, dataclass, fields

import numpy as np

from .algorithm_heuristic import (AVX2_GRID, CPU_RULES, GRID, INF, ORDER, LayerShape, Rules,
                                  choice_indices, layer_shape, usable)
from .algorithms import find_algorithms, scratch_budget
from .ops.registry import CONV2D_ALGORITHM_TABLE, layer_args
from .timing import geomean

from .workload import Workload

__all__ = ["MeasuredRow", "SAMPLE", "EXTRA", "sample_layers", "measure", "write_csv",
           "read_csv", "read_runs", "by_layer", "fit", "evaluate", "Evaluation", "cross_validate"]


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
SAMPLE = (("resnet18", 1, None), ("mobilenet_v2", 1, None), ("resnet50", 1, None),
          ("vgg16", 1, 2), ("alexnet", 1, None), ("densenet121", 1, 12), ("googlenet", 1, 4),
          ("squeezenet1_1", 1, 2), ("resnet18", 8, 3), ("mobilenet_v2", 8, 6))


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


def read_runs(paths):
    """The rows of one or more tables measured on one machine (:func:`read_csv`), merged: a
    layer measured in several runs gets, per algorithm, the geometric mean of its times in
    the runs where it ran (its last status where it never did), so that one disturbed
    search does not move a threshold; layers in order of first appearance."""
    runs = {}
    for path in paths:
        for r in read_csv(path):
            runs.setdefault((r.source, r.layer, r.algo), []).append(r)
    merged = []
    for (source, layer, algo), rows in runs.items():
        times = [r.seconds for r in rows if r.ok]
        merged.append(MeasuredRow(source, layer, algo, "ok", geomean(times)) if times
                      else rows[-1])
    return merged


def by_layer(rows):
    """``{(source, direct workload): {algo: seconds or None}}`` in order."""
    out = {}
    for r in rows:
        out.setdefault((r.source, r.workload), {})[r.algo] = r.seconds if r.ok else None
    return out


# --- fitting rules and evaluating choices ---------------------------------------------------

def _table(rows):
    """``(sources, shapes, allowed, seconds)`` of the layers of measured rows: ``seconds`` an
    (L, 5) array in :data:`~tvmprims.algorithm_heuristic.ORDER`, NaN where the algorithm did
    not run; layers where none ran are left out."""
    sources, shapes, allowed, seconds = [], [], [], []
    for (source, wl), times in by_layer(rows).items():
        t = [np.nan if times.get(a) is None else times[a] for a in ORDER]
        if all(np.isnan(t)):
            continue
        sources.append(source)
        shapes.append(astuple(layer_shape(wl)))
        allowed.append(usable(wl, scratch_budget(wl)))
        seconds.append(t)
    columns = ([np.array(c) for c in zip(*shapes)] if shapes
               else [np.array([])] * len(fields(LayerShape)))
    return (sources, LayerShape(*columns), np.array(allowed).reshape(-1, 5),
            np.array(seconds).reshape(-1, 5))


def _losses(seconds, choice):
    """Chosen seconds over the fastest per layer; a choice that did not run in the search
    (inaccurate, failed) counts as direct's time."""
    best = np.nanmin(seconds, axis=1)
    chosen = seconds[np.arange(len(seconds)), choice]  # choice: (layers,) or (rules, layers)
    direct = np.where(np.isnan(seconds[:, 0]), best, seconds[:, 0])
    return np.where(np.isnan(chosen), direct, chosen) / best


def fit(rows, grid=GRID):
    """The :class:`Rules` of ``grid`` whose choices lose the least time on measured
    :class:`~tvmprims.algorithm_table.MeasuredRow` rows (geometric mean of chosen / fastest;
    the first, most conservative, of equals). Exhaustive: the Winograd and FFT thresholds
    are looped over, and for each of their combinations every combination of the im2col
    thresholds is scored at once (rule fields as columns, layers as rows: :data:`GRID`'s
    830 000 rules in about three seconds; one at a time, 166 000 of them took 3 minutes)."""
    _, s, allowed, seconds = _table(rows)
    if not len(seconds):
        return Rules()
    names = [f.name for f in fields(Rules)]
    outer_names = [n for n in names if not n.startswith("im2col")]
    inner_names = [n for n in names if n.startswith("im2col")]
    inner = list(itertools.product(*(grid[n] for n in inner_names)))
    columns = {n: np.array([c[i] for c in inner])[:, None] for i, n in enumerate(inner_names)}
    best, best_rules = INF, Rules()
    for values in itertools.product(*(grid[n] for n in outer_names)):
        outer = dict(zip(outer_names, values))
        losses = _losses(seconds, choice_indices(s, allowed, Rules(**outer, **columns)))
        scores = np.exp(np.log(losses).mean(axis=-1))
        i = int(np.argmin(scores))  # the first of equals
        if scores[i] < best - 1e-12:
            best, best_rules = scores[i], Rules(**outer, **dict(zip(inner_names, inner[i])))
    return best_rules


@dataclass(frozen=True)
class Evaluation:
    """How choices compare with the measured fastest.

    ``losses``: per layer, ``(source, chosen, fastest, chosen seconds / fastest seconds)``;
    ``agree`` the fraction with ratio 1, ``geomean``/``worst`` of the ratios."""

    losses: tuple

    @property
    def layers(self):
        return len(self.losses)

    @property
    def agree(self):
        return sum(r == 1.0 for *_, r in self.losses) / max(1, self.layers)

    @property
    def geomean(self):
        return geomean((r for *_, r in self.losses), empty=1.0)

    @property
    def worst(self):
        return max((r for *_, r in self.losses), default=1.0)

    def summary(self):
        return (f"{self.layers} layers: agrees with the search on {self.agree:.0%}; "
                f"chosen/fastest time geomean {self.geomean:.3f}, worst {self.worst:.2f}")


def evaluate(rows, rules=CPU_RULES):
    """The :class:`Evaluation` of ``rules`` on measured rows, choosing within each layer's
    scratch budget as ``conv2d`` does."""
    sources, s, allowed, seconds = _table(rows)
    choice = choice_indices(s, allowed, rules)
    fastest = np.nanargmin(seconds, axis=1) if len(sources) else []
    return Evaluation(tuple((src, ORDER[c], ORDER[f], float(r)) for src, c, f, r in
                            zip(sources, choice, fastest, _losses(seconds, choice))))


def cross_validate(rows, group=lambda source: source.split("/")[0], grid=GRID):
    """The :class:`Evaluation`, on each group of layers (default: each model of the table),
    of the rules fitted without it: how the fit does on layers it has not seen."""
    losses = []
    for g in dict.fromkeys(group(r.source) for r in rows):
        train = [r for r in rows if group(r.source) != g]
        losses += evaluate([r for r in rows if group(r.source) == g], fit(train, grid)).losses
    return Evaluation(tuple(losses))


def main(argv=None):
    """``python -m tvmprims.algorithm_table measure OUT.csv [START]``: measure :data:`SAMPLE`
    and :data:`EXTRA` into OUT.csv, layer by layer (from layer START on, appending, to resume
    an interrupted run). ``python -m tvmprims.algorithm_table fit TABLE.csv [TABLE.csv ...]
    [full|avx2]``: fit rules to the tables (several runs merged by :func:`read_runs`) over
    :data:`GRID` (or ``AVX2_GRID``), print them, their agreement with the tables, and a
    leave-one-model-out check."""
    argv = sys.argv[1:] if argv is None else argv
    command, path, *rest = argv
    if command == "measure":
        start = int(rest[0]) if rest else 0
        layers = sample_layers()
        if start == 0:
            write_csv([], path)
        for i, (source, wl) in enumerate(layers[start:], start):
            write_csv(measure([(source, wl)], report=lambda m, i=i: print(f"{i}: {m}", flush=True)),
                      path, append=True)
        return 0
    grids = {"full": GRID, "avx2": AVX2_GRID}
    grid = grids[rest.pop() if rest and rest[-1] in grids else "full"]
    rows = read_runs([path, *rest])
    rules = fit(rows, grid)
    print(rules)
    report = evaluate(rows, rules)
    print("fitted:", report.summary())
    for source, chosen, fastest, ratio in report.losses:
        if ratio > 1:
            print(f"  {source}: chose {chosen}, fastest {fastest}, {ratio:.2f}x its time")
    print("always direct:", evaluate(rows, Rules()).summary())
    print("leave one model out:", cross_validate(rows, grid=grid).summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
