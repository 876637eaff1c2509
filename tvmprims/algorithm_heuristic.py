"""Choosing a conv2d algorithm without running any: rules fitted to measured searches.

``conv2d(algo="auto")`` asks :func:`choose`, which looks at the layer's shape only (nothing is
compiled or timed) and applies :class:`Rules`, in this order:

1. a depthwise layer runs direct (its dedicated kernel);
2. Winograd on a 3x3, stride-1 layer with at least ``winograd_min_channels`` input channels
   and ``winograd_min_out_channels`` output channels per group and ``winograd_min_pixels``
   output pixels (N * OH * OW): F(4x4, 3x3) from
   ``winograd4_min_pixels`` on, else F(2x2, 3x3) (the transforms only pay off on wide,
   large layers);
3. the FFT on a stride-1 layer with a kernel of at least ``fft_min_taps`` taps (KH * KW);
4. im2col on a 1x1 layer (``im2col_pointwise``) or a strided one (``im2col_strided``) with at
   least ``im2col_min_channels`` input channels per group, and ``im2col_min_pixels`` output
   pixels, ``im2col_min_macs`` multiply-adds or ``im2col_wide_channels`` input channels per
   group (the direct schedule packs the weight on every call, a gather of 16 rows ``4 * C``
   bytes apart, which share one L1 set when that is a multiple of 4 KiB), on batches of at
   most ``im2col_max_images`` images (direct packs the weight once per call, for the whole
   batch; im2col runs one GEMM per image);
5. direct otherwise, except a 1x1 layer whose output channels are not a whole number of
   the target's vectors (:func:`ragged_pointwise`): im2col.

A rule's algorithm that does not apply, or needs more scratch memory than the budget
(:func:`tvmprims.algorithms.scratch_budget`), falls through to the next (Winograd 4 to 2).

The thresholds are a fit (:func:`tvmprims.algorithm_table.fit`: an exhaustive search over
:data:`GRID`) to tables of :func:`tvmprims.find_algorithms` results: those that lose the
least time against each layer's fastest algorithm (geometric mean). Rules of a
few thresholds were chosen over a regression of time ratios on shape features: on a shared,
noisy machine they generalise better to models left out of the fit
(``docs/algorithm_choice/README.md``).
``tvmprims.algorithm_table.evaluate`` says how often a choice agrees with a measured table
and what misses cost.
"""

import math
import os
from dataclasses import astuple, dataclass

import numpy as np

from .ops._checks import NotApplicable
from .ops.registry import CONV2D_ALGORITHM_TABLE, algorithm_workload, layer_args

__all__ = ["Rules", "CPU_RULES", "AVX512_RULES", "AVX512_TWO_FMA_RULES", "MODELS", "rules_for",
           "rules_report", "GRID", "AVX2_GRID",
           "ORDER", "LayerShape", "layer_shape", "fits", "usable", "choice_indices", "choose",
           "ragged_pointwise"]

INF = math.inf
#: Algorithm order of :func:`choice_indices` (index 0, direct, is the fallback).
ORDER = ("direct", "im2col", "winograd2", "winograd4", "fft")
assert set(ORDER) == set(CONV2D_ALGORITHM_TABLE)


@dataclass(frozen=True)
class Rules:
    """Thresholds of :func:`choose` (each inclusive; ``inf`` disables a rule)."""

    winograd_min_channels: float = INF
    winograd_min_out_channels: float = 0
    winograd_min_pixels: float = INF
    winograd4_min_pixels: float = INF
    fft_min_taps: float = INF
    im2col_min_channels: float = INF
    im2col_pointwise: bool = False
    im2col_strided: bool = False
    im2col_min_pixels: float = 0
    im2col_min_macs: float = INF
    im2col_wide_channels: float = INF
    im2col_max_images: float = INF


#: Fitted by :func:`tvmprims.algorithm_table.fit` to ``docs/algorithm_choice/measured.csv``
#: (AMD EPYC Zen 3, AVX2, 2 cores, the hand schedules of that date); the rules of every CPU
#: without rules of its own vector ISA. Refit after schedules change:
#: ``python -m tvmprims.algorithm_table fit docs/algorithm_choice/measured.csv avx2``.
#: With 8 x 7 x 7 in the grid (added for the Xeon) the fit moved F(2x2)'s least pixels from 28
#: x 28 to 392 (1.142 -> 1.137 chosen/fastest on the Zen 3 table).
CPU_RULES = Rules(winograd_min_channels=64, winograd_min_pixels=8 * 7 * 7,
                  winograd4_min_pixels=28 * 28, fft_min_taps=INF, im2col_min_channels=16,
                  im2col_pointwise=True, im2col_strided=False)

#: Fitted over :data:`GRID` to seven runs (AMD EPYC Zen 4, AVX-512, one 512-bit FMA a cycle,
#: 2 cores): ``docs/algorithm_choice/measured_avx512.csv``, ``measured_avx512_run2.csv`` and
#: ``measured_avx512_run3.csv`` (82, 95 and 110 layers), ``measured_avx512_run4_pointwise.csv``
#: (the 56 1x1 layers again, after their direct tiles changed),
#: ``measured_avx512_run5_small_planes.csv`` (the 16 non-strided 3x3 layers on 7x7 to 27x27
#: planes, three searches, candidates timed in turn), ``measured_avx512_run6_batch8.csv``
#: (57 layers at batch 8, two searches) and ``measured_avx512_run7_narrow_outputs.csv`` (14
#: 3x3 layers of fewer than 64 output channels, two searches), merged by
#: :func:`tvmprims.algorithm_table.read_runs`: Winograd from 64 input and 64 output channels
#: and 13x13 pixels on (with 16 to 48 input channels its transforms cost more than they
#: save: 3x3 layers of GoogLeNet's shapes on 14x14 ran 1.4-2.3x faster direct; with 32
#: outputs, DenseNet's growth layers, the transforms of 128 input channels feed a GEMM of 32
#: columns: 8x128x7x7 -> 32 direct 0.15 ms, F(2x2) 0.22; AlexNet's 13x13 layers run 1.15-1.2x
#: faster in F(2x2, 3x3), ResNet's 7x7 ones 1.2x slower), im2col for 1x1 layers from 56x56 output
#: pixels on, from 2^26 multiply-adds (ResNet-50's and DenseNet's largest 1x1 layers) or from
#: 2048 input channels (ResNet-50's 2048x7x7 -> 512: direct 0.76 ms, 0.30 of it packing the
#: weight, im2col 0.62), on batches of at most 4 images: at batch 8 the direct schedule's
#: weight packing serves 8 images and im2col's per-image GEMMs on 7x7 to 14x14 planes pad
#: their 49 to 196 pixels to whole register tiles (EfficientNet-B0's 1152x7x7 -> 320 at
#: batch 8: direct 1.34 ms, im2col 1.69, torch 1.44).
#: ``python -m tvmprims.algorithm_table fit docs/algorithm_choice/measured_avx512.csv
#: docs/algorithm_choice/measured_avx512_run*.csv``.
#: With 8 x 7 x 7 in the grid, F(4x4) from 392 pixels instead of 28 x 28 fits the tables as
#: well (1.024): ResNet's batch-8 7x7 layers then run F(4x4), as they run fastest on the Xeon.
#: Neither CPU's tables were measured again after Winograd's tile columns went by shuffles.
AVX512_RULES = Rules(winograd_min_channels=64, winograd_min_out_channels=64,
                     winograd_min_pixels=13 * 13,
                     winograd4_min_pixels=8 * 7 * 7, fft_min_taps=INF, im2col_min_channels=16,
                     im2col_pointwise=True, im2col_strided=False, im2col_min_pixels=56 * 56,
                     im2col_min_macs=2 ** 26, im2col_wide_channels=2048, im2col_max_images=4)

#: The AVX-512 rules of cores that issue two 512-bit FMAs a cycle (measured:
#: :func:`tvmprims.roofline.fma_issue.fma_issue`), fitted over :data:`GRID` to an Intel
#: Xeon's five tables (223 layers): ``docs/algorithm_choice/xeon_pointwise_batch1.csv``,
#: ``xeon_pointwise_batch8.csv`` (the sample's 1x1 layers at batch 1 and 8),
#: ``xeon_pointwise_small.csv`` (every other 1x1 layer of the layer suite's models under 2^23
#: multiply-adds), ``xeon_other_batch1.csv`` (the sample's other layers but depthwise: 3x3,
#: strided, large kernels) and ``xeon_narrow_outputs.csv`` (3x3 layers of fewer than 64 output
#: channels), measured after B was packed per core (``b_packing``).
#: They differ from :data:`AVX512_RULES` in the 1x1 layers: im2col from 7x7 pixels on, at any
#: batch. The direct schedule's 1x1 tile, one 512-bit vector of output channels, keeps one of
#: the two FMA pipes idle, while im2col's GEMM tile issues to both: 8x1024x14x14 -> 512 direct
#: 8.3 ms, im2col 5.5; 320x7x7 -> 1280 direct 0.20, im2col 0.14 (torch 4.5 and 0.14); and with
#: B packed per core the small ones gain too: 232x7x7 -> 232 direct 0.036 ms, im2col 0.022.
#: Direct still wins SqueezeNet's odd planes (64x55x55 -> 16 0.031 / 0.049, 128x27x27 -> 32),
#: which the rules' features do not separate. Winograd from 14x14 pixels and 64 channels
#: (AlexNet's 13x13 layers run direct: 256x13x13 -> 256 0.68 ms, F(2x2) 0.75). On the Xeon's
#: 210 layers chosen/fastest 1.097 (the rules before B was packed per core) -> 1.025 (1.080
#: with each model left out of its own fit). Measured again after direct conv2d's one-vector
#: tiles of 14 accumulators (``CpuParams.conv2d_one_vector_registers``; direct 1.05-1.14x
#: faster on 3x3 layers), with a fifth table, ``xeon_narrow_outputs.csv`` (Zen 4's run 7: 3x3
#: layers of fewer than 64 output channels, DenseNet's 128 -> 32, where direct won all 14):
#: the same rules, 223 layers chosen/fastest 1.027. Without that table the fit could not
#: tell Winograd's least output channels (32 and 64 tied), took 32, and the layer suite then
#: ran DenseNet's 128 -> 32 layers by Winograd at 0.83-1.00x torch (direct: 1.12-1.36x).
#: Refitted after Winograd's tile columns went by vector shuffles (its kernels 1.1-1.4x
#: faster), with the 3x3 tables measured again and a sixth, ``xeon_other_batch8.csv`` (the
#: batch-8 sample's layers that are neither 1x1 nor depthwise): Winograd F(4x4) from 32
#: input channels and 8 x 7 x 7 output pixels, F(2x2) no longer picked (ResNet-18's 256x14x14
#: at batch 1 runs direct: 0.64 ms, F(2x2) 0.70; at batch 8 its 512x7x7 layer runs F(4x4):
#: 4.37 ms, F(2x2) 4.67, direct 5.61; GoogLeNet's 32x28x28 -> 96 F(4x4) 0.121, direct 0.126):
#: 233 layers chosen/fastest 1.026 -> 1.025, 1.067 with each model left out of its own fit.
#: ``python -m tvmprims.algorithm_table fit docs/algorithm_choice/xeon_*.csv``.
AVX512_TWO_FMA_RULES = Rules(winograd_min_channels=32, winograd_min_out_channels=64,
                             winograd_min_pixels=8 * 7 * 7, winograd4_min_pixels=8 * 7 * 7,
                             fft_min_taps=INF, im2col_min_channels=16, im2col_pointwise=True,
                             im2col_strided=False, im2col_min_pixels=7 * 7,
                             im2col_min_macs=INF, im2col_wide_channels=INF,
                             im2col_max_images=INF)

#: ``kind``, ``kind-isa`` or ``kind-isa-Nfma`` (:func:`tvmprims.target.schedule_kind`, the
#: vector ISA of :func:`~tvmprims.schedules.hardware.cpu_model`, the FMA issue width of
#: :func:`~tvmprims.roofline.fma_issue.fma_issue`) -> rules
#: (:func:`rules_for`). A kind without any (CUDA: not measured yet) runs direct under
#: ``conv2d(algo="auto")``.
MODELS = {"cpu": CPU_RULES, "cpu-avx512": AVX512_RULES, "cpu-avx512-2fma": AVX512_TWO_FMA_RULES}

#: Values :func:`tvmprims.algorithm_table.fit` tries per threshold, the most conservative
#: (closest to always direct) first: of equally good rules the first found is kept.
GRID = {
    "winograd_min_channels": (INF, 128, 64, 32, 16, 8),
    "winograd_min_out_channels": (64, 32, 0),
    # 8 * 7 * 7: a batch of 8 on ResNet's last planes, where F(4x4) won on the Xeon once its
    # tile columns went by shuffles, while one 14x14 image ran faster direct
    "winograd_min_pixels": (56 * 56, 28 * 28, 8 * 7 * 7, 14 * 14, 13 * 13, 0),
    "winograd4_min_pixels": (INF, 112 * 112, 56 * 56, 28 * 28, 8 * 7 * 7),
    "fft_min_taps": (INF, 15 * 15, 11 * 11, 9 * 9, 7 * 7, 5 * 5),
    "im2col_min_channels": (INF, 128, 64, 32, 16, 4),
    "im2col_pointwise": (False, True),
    "im2col_strided": (False, True),
    # 7x7: the smallest plane of the models at 224x224 (the Xeon, since B is packed per core)
    "im2col_min_pixels": (0, 7 * 7, 14 * 14, 28 * 28, 56 * 56),
    # 2 ** 25 fitted no better on the Zen 4 table; 2 ** 22 is the Xeon's (two FMAs a cycle)
    "im2col_min_macs": (INF, 2 ** 26, 2 ** 24, 2 ** 23, 2 ** 22),
    # 1024 fitted the four Zen 4 runs as well, but on the 1x1 layers re-measured after their
    # tiles changed (run 4) it loses: 1024x14x14 -> 256 runs direct 0.53 ms, im2col 0.58.
    "im2col_wide_channels": (INF, 2048),
    "im2col_max_images": (INF, 4, 1),
}

#: The grid :data:`CPU_RULES` (AVX2) is fitted over: no pixel threshold for im2col. On the
#: Zen 3 table one (28x28) fits the table better (1.131 vs 1.142) but does worse on models
#: left out of the fit (1.217 vs 1.188); on the Zen 4 table it does better on both.
AVX2_GRID = {**GRID, "im2col_min_pixels": (0,), "im2col_min_macs": (INF,),
             "im2col_wide_channels": (INF,), "im2col_max_images": (INF,),
             "winograd_min_out_channels": (0,)}


@dataclass(frozen=True)
class LayerShape:
    """What the rules look at, per layer (numpy arrays when fitting, scalars otherwise)."""

    depthwise: object
    channels: object   # input channels per group
    taps: object       # KH * KW
    strided: object
    pixels: object     # N * OH * OW
    macs: object       # multiply-adds: pixels * output channels * channels * taps
    images: object     # N
    out_channels: object  # output channels per group


def layer_shape(direct_wl):
    x_shape, w_shape, _, stride, _, _, groups = layer_args(direct_wl)
    n, o, oh, ow = direct_wl.output_shape
    taps, pixels = w_shape[2] * w_shape[3], n * oh * ow
    return LayerShape(direct_wl.op == "depthwise_conv2d", x_shape[1] // groups, taps,
                      max(stride) > 1, pixels, pixels * o * (x_shape[1] // groups) * taps, n,
                      o // groups)


def fits(direct_wl, algo, budget):
    """Whether ``algo`` applies to the layer within ``budget`` bytes of scratch memory."""
    try:
        wl = algorithm_workload(direct_wl, algo)
    except NotApplicable:
        return False
    return algo == "direct" or budget is None or wl.scratch_bytes <= budget


def usable(direct_wl, budget):
    """Booleans in :data:`ORDER` order: applies to the layer within ``budget`` bytes."""
    return np.array([fits(direct_wl, algo, budget) for algo in ORDER])


def choice_indices(s, allowed, r):
    """Index into :data:`ORDER` of the rules' choice per layer; ``s`` a :class:`LayerShape`
    of arrays of L layers, ``allowed`` an (L, 5) boolean array (:func:`usable`)."""
    wino = (~s.depthwise & (s.channels >= r.winograd_min_channels)
            & (s.out_channels >= r.winograd_min_out_channels)
            & (s.pixels >= r.winograd_min_pixels))
    want4 = wino & (s.pixels >= r.winograd4_min_pixels)
    fft = ~s.depthwise & (s.taps >= r.fft_min_taps)
    im2col = (~s.depthwise & (s.channels >= r.im2col_min_channels)
              & ((s.pixels >= r.im2col_min_pixels) | (s.macs >= r.im2col_min_macs)
                 | (s.channels >= r.im2col_wide_channels))
              & ((r.im2col_pointwise & (s.taps == 1)) | (r.im2col_strided & s.strided))
              & (s.images <= r.im2col_max_images))
    # later assignments win: the rule order, reversed
    choice = np.zeros(len(allowed), dtype=int)
    for index, wanted in ((1, im2col), (4, fft), (2, wino), (3, want4)):
        choice = np.where(wanted & allowed[:, index], index, choice)
    return choice


def rules_for(target):
    """The :class:`Rules` for ``target`` (a resolved ``Target``): those fitted on its vector
    ISA and FMA issue width when there are, else on its vector ISA, else its schedule
    kind's; None for a kind without rules."""
    from .roofline.fma_issue import fma_issue
    from .schedules.hardware import cpu_model
    from .target import schedule_kind
    kind = schedule_kind(target)
    if kind == "cpu":
        isa = cpu_model(target).isa
        if _rules_per_issue(isa):  # measured only where it matters
            own = MODELS.get(f"cpu-{isa}-{fma_issue(target)}fma")
            if own is not None:
                return own
        own = MODELS.get(f"cpu-{isa}")
        if own is not None:
            return own
    return MODELS.get(kind)


def _rules_per_issue(isa):
    """Whether :data:`MODELS` has rules for ``isa`` per FMA issue width."""
    return any(key.startswith(f"cpu-{isa}-") for key in MODELS)


def rules_report(target=None):
    """One line saying which rules ``conv2d(algo="auto")`` applies on ``target`` (None: this
    CPU) and what picked them: the vector ISA and, where rules depend on it, the FMA issue
    width (measured on the host, :func:`tvmprims.roofline.fma_issue.fma_issue`)."""
    from .roofline.fma_issue import ENV, fma_issue
    from .schedules.hardware import cpu_model, is_host_cpu
    from .target import resolve_target, schedule_kind, target_key
    target = resolve_target(target)
    rules = rules_for(target)
    name = next((n for n in ("CPU_RULES", "AVX512_RULES", "AVX512_TWO_FMA_RULES")
                 if globals()[n] is rules), "no rules: direct" if rules is None else "rules")
    why = schedule_kind(target)
    if why == "cpu":
        isa = cpu_model(target).isa
        why = isa
        if _rules_per_issue(isa):
            source = ("$" + ENV if os.environ.get(ENV) else
                      "measured" if is_host_cpu(target) else "default for another CPU")
            issue = fma_issue(target)
            why += f", {issue} vector FMA{'s' if issue > 1 else ''} a cycle, {source}"
    return f'conv2d algo="auto" on {target_key(target)}: {name} ({why})'


def choose(direct_wl, rules=CPU_RULES, budget=None, lanes=None):
    """The algorithm :class:`Rules` pick for the layer of ``direct_wl`` among those that apply
    within ``budget`` bytes of scratch memory (None: no bound).

    With the target's SIMD ``lanes``, a 1x1 layer the rules leave to direct goes to im2col
    when its output channels per group are several vectors but not a whole number of them
    (:func:`ragged_pointwise`)."""
    shape = LayerShape(*(np.array([v]) for v in astuple(layer_shape(direct_wl))))
    allowed = np.ones((1, len(ORDER)), dtype=bool)
    while True:  # check only what the rules pick (building a workload costs milliseconds)
        algo = ORDER[int(choice_indices(shape, allowed, rules)[0])]
        if algo == "direct" and lanes and ragged_pointwise(direct_wl, lanes) \
                and fits(direct_wl, "im2col", budget):
            return "im2col"
        if algo == "direct" or fits(direct_wl, algo, budget):
            return algo
        allowed[0, ORDER.index(algo)] = False


def ragged_pointwise(direct_wl, lanes):
    """Whether ``direct_wl`` is a 1x1 layer over images of more than one pixel whose output
    channels per group are more than one vector of ``lanes`` but not a whole number of them
    (one-pixel images are dot products, whatever the channels: ``single_pixel_pointwise``). The
    direct schedule's channel tiles are whole vectors that divide the channels, so it falls
    back to narrow tiles there, while im2col's GEMM takes ragged columns: SqueezeNet's
    classifier (512 -> 1000 channels on 13x13) ran 4.65 ms direct, 0.90 ms im2col on Zen 4.
    No layer of the measured tables is such, so the fitted rules cannot see it."""
    if direct_wl.op == "depthwise_conv2d":
        return False
    _, w_shape, *_, groups = layer_args(direct_wl)
    _, _, oh, ow = direct_wl.output_shape
    per_group = w_shape[0] // groups
    return (w_shape[2] * w_shape[3] == 1 and oh * ow > 1 and per_group > lanes
            and per_group % lanes != 0)
