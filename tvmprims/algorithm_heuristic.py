"""Choosing a conv2d algorithm without running any: rules fitted to measured searches.

``conv2d(algo="auto")`` asks :func:`choose`, which looks at the layer's shape only (nothing is
compiled or timed) and applies :class:`Rules`, in this order:

1. a depthwise layer runs direct (its dedicated kernel);
2. Winograd on a 3x3, stride-1 layer with at least ``winograd_min_channels`` input channels
   per group and ``winograd_min_pixels`` output pixels (N * OH * OW): F(4x4, 3x3) from
   ``winograd4_min_pixels`` on, else F(2x2, 3x3) (the transforms only pay off on wide,
   large layers);
3. the FFT on a stride-1 layer with a kernel of at least ``fft_min_taps`` taps (KH * KW);
4. im2col on a 1x1 layer (``im2col_pointwise``) or a strided one (``im2col_strided``) with at
   least ``im2col_min_channels`` input channels per group;
5. direct otherwise.

A rule's algorithm that does not apply, or needs more scratch memory than the budget
(:func:`tvmprims.algorithms.scratch_budget`), falls through to the next (Winograd 4 to 2).

The thresholds are a fit (:func:`fit`: an exhaustive search over :data:`GRID`, a second) of
tables of :func:`tvmprims.find_algorithms` results (:mod:`tvmprims.algorithm_table`): those
that lose the least time against each layer's fastest algorithm (geometric mean). Rules of a
few thresholds were chosen over a regression of time ratios on shape features: on a shared,
noisy machine they generalise better to models left out of the fit
(``docs/algorithm_choice/README.md``).
:func:`evaluate` says how often a choice agrees with a measured table and what misses cost.
"""

import itertools
import math
from dataclasses import astuple, dataclass, fields

import numpy as np

from .ops._checks import NotApplicable
from .ops.registry import CONV2D_ALGORITHM_TABLE, algorithm_workload, layer_args

__all__ = ["Rules", "CPU_RULES", "MODELS", "GRID", "choose", "fit", "evaluate", "Evaluation",
           "cross_validate"]

INF = math.inf
#: Algorithm order of the choice arrays (index 0, direct, is the fallback).
_ALGOS = ("direct", "im2col", "winograd2", "winograd4", "fft")
assert set(_ALGOS) == set(CONV2D_ALGORITHM_TABLE)


@dataclass(frozen=True)
class Rules:
    """Thresholds of :func:`choose` (each inclusive; ``inf`` disables a rule)."""

    winograd_min_channels: float = INF
    winograd_min_pixels: float = INF
    winograd4_min_pixels: float = INF
    fft_min_taps: float = INF
    im2col_min_channels: float = INF
    im2col_pointwise: bool = False
    im2col_strided: bool = False


#: Fitted by :func:`fit` to ``docs/algorithm_choice/measured.csv`` (AMD EPYC Zen 3, 2 cores,
#: the hand schedules of that date). Refit after schedules change:
#: ``python -m tvmprims.algorithm_heuristic TABLE.csv``.
CPU_RULES = Rules(winograd_min_channels=64, winograd_min_pixels=28 * 28,
                  winograd4_min_pixels=28 * 28, fft_min_taps=INF, im2col_min_channels=16,
                  im2col_pointwise=True, im2col_strided=False)

#: Schedule kind (:func:`tvmprims.target.schedule_kind`) -> its rules; a kind without any
#: (CUDA: not measured yet) runs direct under ``conv2d(algo="auto")``.
MODELS = {"cpu": CPU_RULES}

#: Values :func:`fit` tries per threshold, the most conservative (closest to always direct)
#: first: of equally good rules the first found is kept.
GRID = {
    "winograd_min_channels": (INF, 128, 64, 32, 16, 8),
    "winograd_min_pixels": (56 * 56, 28 * 28, 14 * 14, 0),
    "winograd4_min_pixels": (INF, 112 * 112, 56 * 56, 28 * 28),
    "fft_min_taps": (INF, 15 * 15, 11 * 11, 9 * 9, 7 * 7, 5 * 5),
    "im2col_min_channels": (INF, 128, 64, 32, 16, 4),
    "im2col_pointwise": (False, True),
    "im2col_strided": (False, True),
}


@dataclass(frozen=True)
class _Shape:
    """What the rules look at, per layer (numpy arrays when fitting, scalars otherwise)."""

    depthwise: object
    channels: object   # input channels per group
    taps: object       # KH * KW
    strided: object
    pixels: object     # N * OH * OW


def _shape(direct_wl):
    x_shape, w_shape, _, stride, _, _, groups = layer_args(direct_wl)
    n, _, oh, ow = direct_wl.output_shape
    return _Shape(direct_wl.op == "depthwise_conv2d", x_shape[1] // groups,
                  w_shape[2] * w_shape[3], max(stride) > 1, n * oh * ow)


def _fits(direct_wl, algo, budget):
    """Whether ``algo`` applies to the layer within ``budget`` bytes of scratch memory."""
    try:
        wl = algorithm_workload(direct_wl, algo)
    except NotApplicable:
        return False
    return algo == "direct" or budget is None or wl.scratch_bytes <= budget


def _usable(direct_wl, budget):
    """Booleans in :data:`_ALGOS` order: applies to the layer within ``budget`` bytes."""
    return np.array([_fits(direct_wl, algo, budget) for algo in _ALGOS])


def _choice(s, usable, r):
    """Index into :data:`_ALGOS` of the rules' choice; ``s`` a :class:`_Shape` of arrays of
    L layers, ``usable`` an (L, 5) boolean array."""
    wino = ~s.depthwise & (s.channels >= r.winograd_min_channels) & (s.pixels >= r.winograd_min_pixels)
    want4 = wino & (s.pixels >= r.winograd4_min_pixels)
    fft = ~s.depthwise & (s.taps >= r.fft_min_taps)
    im2col = (~s.depthwise & (s.channels >= r.im2col_min_channels)
              & ((r.im2col_pointwise & (s.taps == 1)) | (r.im2col_strided & s.strided)))
    # later assignments win: the rule order, reversed
    choice = np.zeros(len(usable), dtype=int)
    for index, wanted in ((1, im2col), (4, fft), (2, wino), (3, want4)):
        choice = np.where(wanted & usable[:, index], index, choice)
    return choice


def choose(direct_wl, rules=CPU_RULES, budget=None):
    """The algorithm :class:`Rules` pick for the layer of ``direct_wl`` among those that apply
    within ``budget`` bytes of scratch memory (None: no bound)."""
    shape = _Shape(*(np.array([v]) for v in astuple(_shape(direct_wl))))
    usable = np.ones((1, len(_ALGOS)), dtype=bool)
    while True:  # check only what the rules pick (building a workload costs milliseconds)
        algo = _ALGOS[int(_choice(shape, usable, rules)[0])]
        if algo == "direct" or _fits(direct_wl, algo, budget):
            return algo
        usable[0, _ALGOS.index(algo)] = False


# --- fitting and evaluation ---------------------------------------------------------------------

def _table(rows):
    """``(sources, shapes, usable, seconds)`` of the layers of measured rows: ``seconds`` an
    (L, 5) array, NaN where the algorithm did not run; layers where none ran are left out."""
    from .algorithm_table import by_layer
    from .algorithms import scratch_budget
    sources, shapes, usable, seconds = [], [], [], []
    for (source, wl), times in by_layer(rows).items():
        t = [np.nan if times.get(a) is None else times[a] for a in _ALGOS]
        if all(np.isnan(t)):
            continue
        sources.append(source)
        shapes.append(astuple(_shape(wl)))
        usable.append(_usable(wl, scratch_budget(wl)))
        seconds.append(t)
    columns = [np.array(c) for c in zip(*shapes)] if shapes else [np.array([])] * 5
    return sources, _Shape(*columns), np.array(usable).reshape(-1, 5), np.array(seconds).reshape(-1, 5)


def _losses(seconds, choice):
    """Chosen seconds over the fastest per layer; a choice that did not run in the search
    (inaccurate, failed) counts as direct's time."""
    best = np.nanmin(seconds, axis=1)
    chosen = seconds[np.arange(len(choice)), choice]
    direct = np.where(np.isnan(seconds[:, 0]), best, seconds[:, 0])
    return np.where(np.isnan(chosen), direct, chosen) / best


def _geomean(values):
    return float(np.exp(np.mean(np.log(values)))) if len(values) else 1.0


def fit(rows, grid=GRID):
    """The :class:`Rules` of ``grid`` whose choices lose the least time on measured
    :class:`~tvmprims.algorithm_table.MeasuredRow` rows (geometric mean of chosen / fastest;
    the first, most conservative, of equals)."""
    _, s, usable, seconds = _table(rows)
    names = [f.name for f in fields(Rules)]
    best, best_rules = INF, Rules()
    for values in itertools.product(*(grid[n] for n in names)):
        rules = Rules(*values)
        score = _geomean(_losses(seconds, _choice(s, usable, rules)))
        if score < best - 1e-12:
            best, best_rules = score, rules
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
        return _geomean([r for *_, r in self.losses])

    @property
    def worst(self):
        return max((r for *_, r in self.losses), default=1.0)

    def summary(self):
        return (f"{self.layers} layers: agrees with the search on {self.agree:.0%}; "
                f"chosen/fastest time geomean {self.geomean:.3f}, worst {self.worst:.2f}")


def evaluate(rows, rules=CPU_RULES):
    """The :class:`Evaluation` of ``rules`` on measured rows, choosing within each layer's
    scratch budget as ``conv2d`` does."""
    sources, s, usable, seconds = _table(rows)
    choice = _choice(s, usable, rules)
    fastest = np.nanargmin(seconds, axis=1) if len(sources) else []
    return Evaluation(tuple((src, _ALGOS[c], _ALGOS[f], float(r)) for src, c, f, r in
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
    """``python -m tvmprims.algorithm_heuristic TABLE.csv``: fit rules to a measured table and
    print them, their agreement with the table, and a leave-one-model-out check."""
    import sys

    from .algorithm_table import read_csv
    argv = sys.argv[1:] if argv is None else argv
    rows = read_csv(argv[0])
    rules = fit(rows)
    print(rules)
    report = evaluate(rows, rules)
    print("fitted:", report.summary())
    for source, chosen, fastest, ratio in report.losses:
        if ratio > 1:
            print(f"  {source}: chose {chosen}, fastest {fastest}, {ratio:.2f}x its time")
    print("always direct:", evaluate(rows, Rules()).summary())
    print("leave one model out:", cross_validate(rows).summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
