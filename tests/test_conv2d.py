"""conv2d (direct) and conv1d against float64 torch over batches, channels, sizes, kernels,
strides, paddings, dilations and groups."""

import itertools
import re

import numpy as np
import pytest

import tvmprims
from tvmprims.schedules.common import CPU_STACK_BYTES, partial_sum_lanes, vector_lanes
from tvmprims.schedules.cpu import conv2d as cpu_conv2d
from tvmprims.schedules.hardware import CpuParams, cpu_params
from tvmprims.target import resolve_target
from tvmprims.testing import (assert_close, conv1d_ref, conv2d_ref, epilogue_ref,
                              workspace_allocations)
from cpu_targets import ZNVER3_2C, compile_for, require_runs_here, runs_here, target_params

BATCHES = (1, 3, 32)
CHANNELS = (1, 3, 64)
SPATIAL = (1, 3, 4, 7, 57, 128)
KERNELS = (1, 3, 5, 7)


def _cases():
    """Every spatial size with every kernel size, batch, channel count and stride/padding/
    dilation cycled through so each value appears with several others. Large batch x channel
    x size combinations are kept out of the default set (they only cost time)."""
    params = itertools.cycle([(1, 0, 1), (1, 1, 1), (2, 1, 1), (1, 2, 2), (3, 3, 1), (2, 0, 2)])
    sizes = itertools.cycle(itertools.product(BATCHES, CHANNELS))
    cases = []
    for h, k in itertools.product(SPATIAL, KERNELS):
        stride, padding, dilation = next(params)
        n, c = next(sizes)
        if h >= 57 and n * c > 32:
            n, c = 1, c if n * c <= 64 else 3
        span = dilation * (k - 1) + 1
        if h + 2 * padding < span:  # kernel larger than the padded input: an error case
            padding = (span - h + 1) // 2
        cases.append(((n, c, h, h), (min(64, 2 * c + 1), c, k, k), stride, padding, dilation))
    return cases


def _run(rng, x_shape, w_shape, stride, padding, dilation, groups=1, bias=True, dtype="float32",
         target=None):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype) if bias else None
    out = tvmprims.conv2d(x, w, b, stride, padding, dilation, groups, algo="direct",
                          target=target)
    assert_close(out, conv2d_ref(x, w, b, stride, padding, dilation, groups), dtype,
                 w_shape[1] * w_shape[2] * w_shape[3])


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation", _cases(), ids=str)
def test_grid(rng, x_shape, w_shape, stride, padding, dilation):
    _run(rng, x_shape, w_shape, stride, padding, dilation, bias=x_shape[0] != 3)


@pytest.mark.parametrize("c,o,groups", [(4, 6, 2), (6, 9, 3), (64, 64, 4), (3, 3, 3)])
def test_groups(rng, c, o, groups):
    _run(rng, (2, c, 9, 8), (o, c // groups, 3, 3), (1, 2), (1, 0), 1, groups)


@pytest.mark.parametrize("stride,padding,dilation", [((2, 1), (0, 2), (1, 3)), (1, "same", 2),
                                                     (1, "valid", 1), ((1, 3), (3, 1), (2, 1))])
def test_pairs_and_padding_strings(rng, stride, padding, dilation):
    _run(rng, (1, 3, 11, 13), (5, 3, 3, 2), stride, padding, dilation)


@pytest.mark.parametrize("x_shape,w_shape", [((1, 64, 56, 56), (64, 64, 3, 3)),
                                             ((32, 3, 32, 32), (16, 3, 5, 5)),
                                             ((1, 3, 128, 128), (64, 3, 7, 7))])
def test_large(rng, x_shape, w_shape):
    _run(rng, x_shape, w_shape, 1, 1, 1)


@pytest.mark.parametrize("x_shape,w_shape,stride,padding",
                         [((1, 1, 1, 1), (1, 1, 1, 1), 1, 0), ((3, 3, 7, 7), (5, 3, 3, 3), 2, 1),
                          ((2, 64, 4, 4), (64, 64, 3, 3), 1, 1)])
def test_float64(rng, x_shape, w_shape, stride, padding):
    _run(rng, x_shape, w_shape, stride, padding, 1, dtype="float64")


def test_unscheduled_baseline(rng):
    x = rng.standard_normal((2, 3, 9, 9)).astype("float32")
    w = rng.standard_normal((4, 3, 3, 3)).astype("float32")
    assert_close(tvmprims.conv2d(x, w, padding=1, schedule="none"), conv2d_ref(x, w, padding=1),
                 "float32", 27)


@pytest.mark.parametrize("n,c,length,o,k,stride,padding,dilation,groups",
                         [(1, 1, 1, 1, 1, 1, 0, 1, 1), (3, 3, 57, 5, 5, 2, 2, 1, 1),
                          (32, 64, 7, 64, 3, 1, 1, 1, 1), (1, 64, 128, 32, 7, 1, 3, 2, 1),
                          (2, 4, 50, 6, 5, 2, 3, 2, 2), (3, 8, 33, 8, 3, 1, 1, 1, 8),
                          (1, 3, 4, 2, 3, 3, "valid", 1, 1), (2, 3, 10, 4, 4, 1, "same", 1, 1)])
def test_conv1d(rng, n, c, length, o, k, stride, padding, dilation, groups):
    x = rng.standard_normal((n, c, length)).astype("float32")
    w = rng.standard_normal((o, c // groups, k)).astype("float32")
    b = rng.standard_normal(o).astype("float32")
    out = tvmprims.conv1d(x, w, b, stride, padding, dilation, groups, algo="direct")
    assert_close(out, conv1d_ref(x, w, b, stride, padding, dilation, groups), "float32",
                 c // groups * k)


@pytest.mark.parametrize("k", [(9, 9), (11, 11), (3, 13)])
def test_kernels_wider_than_the_unrolled_limit(rng, k):
    """Kernel rows wider than 7 taps stay a loop in the CPU schedule."""
    _run(rng, (2, 3, 21, 23), (5, 3, *k), 1, (k[0] // 2, k[1] // 2), 1)


@pytest.mark.parametrize("target,vector_bytes", target_params())
def test_register_tile_is_not_a_workspace(target, vector_bytes):
    # Workspaces: the padded input and the packed weights; the accumulators (a segment of
    # 5 + 4 columns on AVX2) are a stack array (CPU_REGISTER_SCOPE), not an allocation per
    # tile, on every CPU family.
    kernel = compile_for(target, "conv2d", (1, 8, 9, 9), (16, 8, 3, 3), padding=1)
    assert workspace_allocations(kernel) == 2


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation,groups,dtype",
                         [((1, 256, 14, 14), (256, 256, 3, 3), 1, 1, 1, 1, "float32"),
                          ((2, 32, 27, 27), (32, 16, 3, 3), 2, 1, 1, 2, "float32"),
                          ((1, 16, 21, 21), (16, 16, 3, 3), 1, 0, 2, 1, "float32"),
                          ((1, 8, 13, 13), (8, 8, 3, 3), 1, 1, 1, 1, "float64")])
def test_tiles_of_two_widths(rng, x_shape, w_shape, stride, padding, dilation, groups, dtype):
    """Output widths 14, 17 and 13: whole tiles and then narrower ones (5 + 5 + 4, ...).

    These shapes get two widths with AVX2's vectors (not all of them with AVX-512's), so the
    kernel is built for the AVX2 target (znver3), whose code runs on any AVX2 or AVX-512 host.
    """
    require_runs_here(ZNVER3_2C)
    out_width = (x_shape[3] + 2 * padding - dilation * (w_shape[3] - 1) - 1) // stride + 1
    tiles = cpu_conv2d.tile_sizes(w_shape[0], out_width, out_width,
                                  vector_lanes(ZNVER3_2C, dtype), w_shape[0] // groups,
                                  8 if dtype == "float64" else 4)
    assert tiles.short > 0
    _run(rng, x_shape, w_shape, stride, padding, dilation, groups, dtype=dtype,
         target=ZNVER3_2C)


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dtype", [
    ((1, 64, 31, 31), (64, 64, 5, 5), 1, 2, "float32"),        # 31 columns: 6 x 5 + 1
    ((1, 128, 17, 17), (128, 128, 1, 7), 1, (0, 3), "float32"),  # Inception's 1x7
    ((2, 32, 1, 509), (48, 32, 1, 5), 1, (0, 2), "float32"),    # a conv1d
    ((1, 32, 45, 45), (32, 32, 3, 3), 2, 1, "float32"),         # 23 columns, stride 2
    ((1, 16, 19, 19), (16, 16, 3, 3), 1, 1, "float64"),
])
def test_prime_widths_get_wide_tiles_and_a_short_last_segment(rng, x_shape, w_shape, stride,
                                                              padding, dtype):
    """No divisor of a prime width fits a stack segment, so the segments do not divide it
    and the last one is cut short by the block's predicate (one-column tiles before: 2x
    slower). The columns on either side of the cut are checked against float64."""
    target = resolve_target("llvm")
    wl = tvmprims.api.conv2d_workload(x_shape, w_shape, None, dtype, stride, padding, 1, 1)
    out_width = wl.output_shape[3]
    tiles = cpu_conv2d.tile_sizes(w_shape[0], wl.output_shape[2], out_width,
                                  vector_lanes(target, dtype), None,
                                  8 if dtype == "float64" else 4, cpu_params(target))
    assert tiles.cols > 1 and out_width % tiles.segment, tiles
    _run(rng, x_shape, w_shape, stride, padding, 1, 1, dtype=dtype)
    if runs_here(ZNVER3_2C):  # AVX2's 8-lane vectors: other segments, other cuts
        _run(rng, x_shape, w_shape, stride, padding, 1, 1, dtype=dtype, target=ZNVER3_2C)


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation", [
    ((1, 3, 67, 61), (32, 3, 11, 11), 4, 2, 1),        # an AlexNet-style stem: 15 x 14 out
    ((2, 16, 23, 29), (48, 16, 9, 9), 2, 4, 1),
    ((1, 8, 1, 101), (48, 8, 1, 13), 1, (0, 6), 1),    # a 13-tap conv1d
    ((1, 16, 19, 23), (32, 16, 9, 9), 1, 4, 1),
    ((1, 16, 31, 31), (16, 16, 3, 11), (1, 3), (1, 5), 1),
    ((1, 4, 1, 67), (16, 4, 1, 17), 1, 0, 1),          # 17 taps: a loop
    ((1, 16, 29, 29), (16, 16, 9, 9), 2, 8, 2),        # dilated
])
def test_wide_kernels(rng, x_shape, w_shape, stride, padding, dilation):
    """Kernels wider than 7: taps unrolled up to 15, strided ones with smaller tiles
    (:func:`~tvmprims.schedules.cpu.conv2d.tap_sharing_budget`), against float64."""
    _run(rng, x_shape, w_shape, stride, padding, dilation)


def test_strided_wide_kernels_take_tiles_of_at_most_ten_accumulators():
    params = CpuParams.for_registers(32, vector_bytes=64)
    stem = tvmprims.ops.conv2d.workload((1, 3, 224, 224), (64, 3, 11, 11), stride=4,
                                        padding=2)
    assert cpu_conv2d.tap_sharing_budget(stem, params) == params.conv2d_registers
    tiles = cpu_conv2d._tiles(stem, 16, params)
    assert tiles.channels // 16 * tiles.rows * tiles.cols <= params.conv2d_registers
    assert tiles.channels // 16 * tiles.rows * tiles.cols > 1
    # two FMAs a cycle: two-vector tiles of 14 elsewhere, at most 10 here (more spilled)
    two_fma = CpuParams.for_registers(32, vector_bytes=64, fma_issue=2)
    assert cpu_conv2d.tap_sharing_budget(stem, two_fma) == 10
    assert tuple(cpu_conv2d._tiles(stem, 16, two_fma)) == tuple(tiles)
    for w_shape, stride in (((64, 64, 9, 9), 1), ((64, 64, 7, 7), 2), ((64, 64, 17, 17), 2)):
        wl = tvmprims.ops.conv2d.workload((1, 64, 56, 56), w_shape, stride=stride)
        assert cpu_conv2d.tap_sharing_budget(wl, params) is None, (w_shape, stride)
        assert cpu_conv2d._tiles(wl, 16, params) == cpu_conv2d.tile_sizes(
            64, *wl.output_shape[2:], 16, params=params)


def test_tiles_of_several_rows(rng):
    """An output two columns wide: the tile spans two rows to keep 8 accumulators."""
    lanes = vector_lanes(resolve_target("llvm"), "float32")  # the host's, which _run uses
    assert cpu_conv2d.tile_sizes(32, 14, 2, lanes).rows > 1
    _run(rng, (2, 32, 14, 2), (32, 32, 3, 1), 1, (1, 0), 1)


#: AVX-512's parameters (larger budgets for one-vector and narrower tiles).
AVX512 = CpuParams.for_registers(32, vector_bytes=64)


@pytest.mark.parametrize("lanes,itemsize,params", [
    (4, 4, CpuParams()), (8, 4, CpuParams()), (4, 8, CpuParams()), (16, 4, CpuParams()),
    (16, 4, AVX512), (8, 8, AVX512)])
def test_tile_sizes_fit_registers_and_stack(lanes, itemsize, params):
    for o, per_group, h, w in itertools.product((1, 3, 8, 16, 24, 64, 512), (None, 8, 16),
                                                (1, 2, 7, 13, 14, 56), (1, 5, 7, 14, 17, 30, 57)):
        limit = per_group or o
        if limit > o or o % limit:
            continue
        case = (o, per_group, h, w)
        t = cpu_conv2d.tile_sizes(o, h, w, lanes, per_group, itemsize, params)
        assert limit % t.channels == 0 and h % t.rows == 0, case
        # segments divide the width, except a prime's: one row, wide tiles, a short last one
        assert w % t.segment == 0 or (t.rows == 1 and t.cols > 1), case
        whole = (t.segment - t.short * (t.cols - 1)) // t.cols
        assert whole * t.cols + t.short * (t.cols - 1) == t.segment, case
        vectors = -(-t.channels // lanes)
        budget = cpu_conv2d.accumulator_budget(params, vectors, t.channels < lanes)
        assert vectors * t.rows * t.cols <= budget, case
        assert t.channels * t.rows * t.segment * itemsize < CPU_STACK_BYTES, case
        if limit % lanes == 0 and w <= budget:
            # a whole row of one vector hides the FMA latency as well as the chosen tiles
            smallest = t.channels // lanes * t.rows * (t.cols - (t.short > 0))
            assert smallest >= min(w, params.fma_chains), case


@pytest.mark.parametrize("o,h,w,per_group,tiles", [
    (64, 56, 56, None, (16, 1, 14, 14, 0)),    # 16 channels x 14 columns, not 32 x 4
    (256, 14, 14, None, (16, 1, 14, 14, 0)),
    (512, 14, 14, 16, (16, 1, 14, 14, 0)),     # ResNeXt's groups of 16
    (256, 28, 28, 8, (8, 4, 7, 3, 2)),         # groups of 8: half a vector, 12 accumulators
])
def test_avx512_one_vector_tiles(rng, o, h, w, per_group, tiles):
    """AVX-512 budgets: 14 accumulators for a tile of one vector, 12 for half a vector."""
    assert tuple(cpu_conv2d.tile_sizes(o, h, w, 16, per_group, 4, AVX512)) == tiles
    if per_group:  # through the API, with this CPU's tiles
        _run(rng, (1, o, h, w), (o, per_group, 3, 3), 1, 1, 1, o // per_group)


@pytest.mark.parametrize("o,h,w,per_group,channels,accumulators", [
    (256, 28, 28, 8, 8, 8), (128, 56, 56, 4, 4, 8), (40, 9, 7, 20, 10, 7),
    (1000, 14, 14, None, 10, 7)])
def test_channels_not_a_vector_multiple_get_the_keys_rows_and_columns(
        rng, o, h, w, per_group, channels, accumulators):
    """Fewer channels per group than a vector (ResNeXt's 4 and 8 on AVX-512): tiles of their
    widest divisor below the vector, with rows and columns chosen as for a vector that wide
    (before: one row of a fixed width, 1.03-1.13x slower on ResNeXt's layers; 8 channels on
    28 columns had 7 accumulators, now 2 rows of 5 + 5 + 4)."""
    params = CpuParams()
    t = cpu_conv2d.tile_sizes(o, h, w, 16, per_group, 4, params)
    assert t.channels == channels and h % t.rows == 0 and w % t.segment == 0
    assert t.rows * min(t.widths) >= accumulators, t
    if per_group in (4, 8):  # through the API, on this CPU
        groups = o // per_group
        _run(rng, (2, o, h // 2, w // 2), (o, per_group, 3, 3), 1, 1, 1, groups)


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,groups,image_outer", [
    ((2, 17, 30, 29), (48, 17, 1, 1), 1, 0, 1, True),     # 1x1: rows outside channel blocks
    ((3, 24, 5, 5), (40, 12, 3, 3), 2, 1, 2, False),      # 3 x 3 output: channel blocks outside
    ((2, 64, 14, 14), (256, 64, 3, 3), 1, 1, 1, False),   # a weight larger than the image
    ((1, 32, 30, 30), (32, 32, 3, 3), 2, 1, 1, True),     # the image larger than the weight
    ((1, 64, 14, 14), (64, 64, 3, 3), 1, 1, 1, True),     # ... or a weight within L2 / 4
])
def test_tile_loop_orders(rng, x_shape, w_shape, stride, padding, groups, image_outer):
    """Both orders of the tile loops (:func:`image_outer`), with batch > 1 and groups."""
    wl = tvmprims.ops.conv2d.workload(x_shape, w_shape, stride=stride, padding=padding,
                                      groups=groups)
    lanes = vector_lanes(resolve_target(None), "float32")
    _, o, oh, ow = wl.output_shape
    tiles = cpu_conv2d.tile_sizes(o, oh, ow, lanes, o // groups if groups > 1 else None)
    assert cpu_conv2d.image_outer(wl, tiles) is image_outer
    _run(rng, x_shape, w_shape, stride, padding, 1, groups)


@pytest.mark.parametrize("n,c,o,stride,dtype,activation", [
    (1, 480, 20, 1, "float32", None),      # EfficientNet-B0's squeeze and excitation
    (1, 20, 480, 1, "float32", "sigmoid"),
    (1, 1152, 48, 1, "float32", "silu"),   # flops enough to run parallel
    (1, 48, 1152, 2, "float32", "hardsigmoid"),
    (3, 17, 97, 1, "float32", None),       # primes: a partial vector of channels
    (1, 28, 672, 1, "float32", "sigmoid"),  # EfficientNet's: 4-lane partial sums, no tail
    (2, 20, 31, 1, "float64", None),
    (1, 1, 1, 1, "float32", None),
    (2, 3, 5, 1, "float64", "relu"),
    (8, 96, 4, 1, "float64", None),
])
def test_single_pixel_pointwise(rng, n, c, o, stride, dtype, activation):
    """1x1 convolutions of 1x1 images run as dot products of weight rows with the input."""
    x = rng.standard_normal((n, c, 1, 1)).astype(dtype)
    w = rng.standard_normal((o, c, 1, 1)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    wl = tvmprims.ops.conv2d.workload(x.shape, w.shape, b.shape, dtype, stride)
    assert cpu_conv2d.single_pixel_pointwise(wl)
    expected = epilogue_ref(conv2d_ref(x, w, b, stride), activation)
    avx2 = [ZNVER3_2C] * (runs_here(ZNVER3_2C) and c % 2 == 1)  # the odd channel counts
    for target in [None] + avx2:  # this CPU's vectors, and AVX2's
        out = tvmprims.conv2d(x, w, b, stride, algo="direct", activation=activation,
                              target=target)
        assert_close(out, expected, dtype, c)


@pytest.mark.parametrize("target,vector_bytes", target_params())
def test_pointwise_tiles_take_a_cache_line_of_weight_per_input_channel(rng, target,
                                                                       vector_bytes):
    """1x1 layers: 16 float32 channels per tile (one AVX-512 vector, two AVX2 ones), 8
    float64; other kernels keep the tiling key's choice."""
    params, lanes = cpu_params(target), vector_bytes // 4
    for dtype, itemsize in (("float32", 4), ("float64", 8)):
        wl = tvmprims.ops.conv2d.workload((1, 96, 14, 14), (256, 96, 1, 1), dtype=dtype)
        tiles = cpu_conv2d._tiles(wl, vector_bytes // itemsize, params)
        assert tiles.channels == min(64, 2 * vector_bytes) // itemsize
    wide = tvmprims.ops.conv2d.workload((1, 96, 14, 14), (256, 96, 3, 3), padding=1)
    assert cpu_conv2d._tiles(wide, lanes, params) == cpu_conv2d.tile_sizes(
        256, 14, 14, lanes, params=params)
    if runs_here(target):
        x = rng.standard_normal((2, 97, 13, 11)).astype(np.float32)
        w = rng.standard_normal((48, 97, 1, 1)).astype(np.float32)
        out = tvmprims.conv2d(x, w, algo="direct", target=target)
        assert_close(out, conv2d_ref(x, w, None, 1, 0), "float32", 97)


@pytest.mark.parametrize("size,vector,lanes", [
    (28, 8, 4), (28, 16, 4), (20, 8, 4), (196, 8, 4), (30, 4, 2), (6, 8, 6), (1, 8, 1),
    (32, 8, 8), (480, 16, 16), (49, 8, 8), (17, 8, 8), (36, 16, 4)])
def test_partial_sums_avoid_a_tail_when_a_narrower_vector_divides(size, vector, lanes):
    assert partial_sum_lanes(size, vector) == lanes


@pytest.mark.parametrize("target,vector_bytes", target_params())
def test_single_pixel_dot_products_run_in_whole_vectors(target, vector_bytes):
    """28 input channels: seven 4-lane partial sums per output, no scalar tail (before:
    one 8- or 16-lane vector and 12 or 4 scalar products per output, 4x slower)."""
    ir = compile_for(target, "conv2d", (1, 28, 1, 1), (672, 28, 1, 1)).llvm_ir()
    assert re.search(r"load <4 x float>", ir)
    assert not re.search(r"load float,", ir)


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation,groups,dtype", [
    ((2, 3, 29, 63), (10, 3, 7, 7), 2, 3, 1, 1, "float32"),       # stem-like, odd padded width
    ((1, 6, 20, 50), (9, 2, 3, 3), (1, 3), 0, (2, 1), 3, "float32"),  # no padding, stride 3, groups
    ((1, 3, 9, 259), (8, 3, 11, 11), 4, 2, 1, 1, "float32"),     # AlexNet-like: long plane rows
    ((3, 3, 17, 16), (5, 3, 3, 3), 1, 1, 1, 1, "float64"),
    ((2, 32, 11, 24), (32, 4, 3, 3), 1, 1, 1, 8, "float32"),      # ResNeXt-like: 4 per group
    ((1, 12, 7, 40), (12, 4, 3, 3), 1, 1, 1, 3, "float64"),
])
def test_column_tiles(rng, x_shape, w_shape, stride, padding, dilation, groups, dtype):
    """Layers with few input channels take the column-vector tiles (:func:`column_tiling`),
    of half a vector where the width is a multiple of that, not of a vector (24 and 40
    columns on AVX-512), on this CPU's vectors and AVX2's."""
    wl = tvmprims.ops.conv2d.workload(x_shape, w_shape, dtype=dtype, stride=stride,
                                      padding=padding, dilation=dilation, groups=groups)
    lanes = vector_lanes(resolve_target(None), dtype)
    vector, _, cols = cpu_conv2d.column_tiling(wl, lanes)
    assert vector in (lanes, lanes // 2) and cols % vector == 0
    for target in [None] + [ZNVER3_2C] * runs_here(ZNVER3_2C):
        _run(rng, x_shape, w_shape, stride, padding, dilation, groups, dtype=dtype,
             target=target)


@pytest.mark.parametrize("target,vector_bytes", target_params())
def test_half_vector_column_tiles_only_from_32_bytes(target, vector_bytes):
    """A width of 24: 8-float column tiles on AVX-512 (half a vector) and AVX2 (a whole one),
    4-float ones with 16-byte vectors (a half would be under 32 bytes)."""
    wl = tvmprims.ops.conv2d.workload((1, 32, 11, 24), (32, 4, 3, 3), padding=1, groups=8)
    tiling = cpu_conv2d.column_tiling(wl, vector_bytes // 4)
    assert (tiling[0] if tiling else None) == (8 if vector_bytes >= 32 else 4)
