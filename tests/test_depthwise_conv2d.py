"""depthwise_conv2d (and conv2d with groups == C) against float64 torch."""

import itertools

import numpy as np
import pytest

import tvmprims
from tvmprims.testing import assert_close, depthwise_conv2d_ref, epilogue_ref

SHAPES = [(1, 1, 1, 1), (3, 3, 7, 7), (32, 3, 4, 4), (1, 64, 57, 57), (3, 64, 3, 3),
          (1, 3, 128, 128), (32, 64, 7, 7)]
PARAMS = [(1, 1, 0, 1, 1), (3, 1, 1, 1, 1), (3, 2, 1, 1, 1), (5, 1, 2, 2, 1), (7, 1, 3, 1, 2),
          (3, 2, 0, 2, 1)]  # kernel, stride, padding, dilation, channel multiplier


def _cases():
    for shape, (k, s, p, d, m) in itertools.product(SHAPES, PARAMS):
        if shape[2] + 2 * p >= d * (k - 1) + 1:
            yield shape, k, s, p, d, m


@pytest.mark.parametrize("shape,k,stride,padding,dilation,multiplier", list(_cases()), ids=str)
def test_grid(rng, shape, k, stride, padding, dilation, multiplier):
    c = shape[1]
    x = rng.standard_normal(shape).astype("float32")
    w = rng.standard_normal((c * multiplier, 1, k, k)).astype("float32")
    b = rng.standard_normal(c * multiplier).astype("float32")
    expected = depthwise_conv2d_ref(x, w, b, stride, padding, dilation)
    assert_close(tvmprims.depthwise_conv2d(x, w, b, stride, padding, dilation), expected,
                 "float32", k * k)
    # conv2d with groups == C dispatches to the same operator.
    assert_close(tvmprims.conv2d(x, w, b, stride, padding, dilation, groups=c, algo="direct"), expected,
                 "float32", k * k)


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 5, 13, 11), (1, 32, 112, 112)])
def test_float64(rng, shape):
    x = rng.standard_normal(shape)
    w = rng.standard_normal((shape[1], 1, 3, 3))
    assert_close(tvmprims.depthwise_conv2d(x, w, None, 1, 1), depthwise_conv2d_ref(x, w, None, 1, 1),
                 "float64", 9)


def test_unscheduled_baseline(rng):
    x = rng.standard_normal((1, 4, 9, 9)).astype("float32")
    w = rng.standard_normal((8, 1, 3, 3)).astype("float32")
    assert_close(tvmprims.depthwise_conv2d(x, w, padding=1, schedule="none"),
                 depthwise_conv2d_ref(x, w, padding=1), "float32", 9)


@pytest.mark.parametrize("shape,k,stride,padding,multiplier", [
    ((2, 6, 29, 31), 5, 2, 2, 2),        # 5x5 stride 2, multiplier: odd padded width
    ((1, 5, 23, 40), 7, (1, 3), 3, 1),   # column stride 3 only: three phase planes
    ((3, 4, 16, 24), 3, 2, 0, 1),        # strided without padding: the per-channel copy
    # Plane rows of two vectors or more (AVX-512 and AVX2): the phase planes are written by
    # LLVM's interleaved vectorisation, odd widths, three phases, no padding.
    ((1, 3, 19, 131), 3, 2, 1, 1),
    ((2, 2, 11, 200), 5, (1, 3), 2, 2),
    ((1, 2, 9, 129), 3, 2, 0, 1),
], ids=str)
def test_strided_phase_planes(rng, shape, k, stride, padding, multiplier):
    """Strided layers read the input as per-stride phase planes (non-square, batch > 1)."""
    x = rng.standard_normal(shape).astype("float32")
    w = rng.standard_normal((shape[1] * multiplier, 1, k, k)).astype("float32")
    assert_close(tvmprims.depthwise_conv2d(x, w, None, stride, padding),
                 depthwise_conv2d_ref(x, w, None, stride, padding), "float32", k * k)


@pytest.mark.parametrize("shape, padding, filled", [
    ((2, 4, 9, 50), 1, True), ((2, 4, 9, 61), (1, 2, 0, 3), True),
    ((2, 4, 1, 64), (0, 0, 2, 3), True),  # one-row planes (conv1d)
    ((2, 4, 9, 11), 1, False), ((1, 4, 1, 1), (1, 1, 1, 1), False)])  # rows under 3 vectors
def test_padding_of_wide_planes_is_a_fill_then_a_copy(rng, shape, padding, filled):
    """Without a column stride, planes whose padded rows hold FILL_MIN_VECTORS vectors are
    padded by a vectorised fill then a copy of the rows, no per-element bounds test (as one
    loop it stayed scalar: 3x3 on 32 x 112 x 112 ran 1.36x slower); narrower ones keep the
    one loop. Uneven padding and planes of one row (conv1d) included."""
    from cpu_targets import compile_for
    kernel = (4, 1, 3, 3) if shape[2] > 1 else (4, 1, 1, 3)
    script = compile_for(None, "depthwise_conv2d", shape, kernel, padding=padding).script()
    assert ('T.sblock("pad_pad_const")' in script) == filled
    assert ("if_then_else" not in script) == filled
    x = rng.standard_normal(shape).astype("float32")
    w = rng.standard_normal(kernel).astype("float32")
    top, bottom, left, right = (padding,) * 4 if isinstance(padding, int) else padding
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    assert_close(tvmprims.depthwise_conv2d(x, w, None, 1, padding),
                 depthwise_conv2d_ref(padded, w, None, 1, 0), "float32", 9)


@pytest.mark.parametrize("args, tile", [
    ((14, 14, 5, 16), (2, 14)), ((7, 7, 5, 16), (7, 7)), ((7, 7, 7, 16), (7, 7)),
    ((10, 10, 5, 16), (2, 10)),
    ((7, 7, 3, 16), (1, 7)),      # 3x3 windows keep one row
    ((13, 13, 5, 16), (1, 13)),   # 13 rows would pass fma_chains
    ((28, 28, 5, 16), (1, 28)),   # rows of more than a vector
    ((14, 14, 5, 8), (1, 14)),
])
def test_long_windows_on_narrow_planes_take_several_rows(args, tile):
    from tvmprims.schedules.common import tile_shape
    assert tile_shape(*args) == tile


@pytest.mark.parametrize("shape, k, stride", [
    ((2, 20, 14, 14), 5, 1), ((1, 24, 7, 7), 5, 1), ((1, 16, 14, 14), 5, 2),
    ((3, 8, 10, 10), 7, 1), ((1, 5, 13, 13), 5, 1)], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_long_windows_on_narrow_planes(rng, shape, k, stride, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((shape[1], 1, k, k)).astype(dtype)
    b = rng.standard_normal(shape[1]).astype(dtype)
    expected = depthwise_conv2d_ref(x, w, b, stride, k // 2)
    assert_close(tvmprims.depthwise_conv2d(x, w, b, stride, k // 2), expected, dtype, k * k)


@pytest.mark.parametrize("shape, k, stride, padding, dilation, dtype, activation, residual", [
    ((2, 32, 7, 7), 5, 1, 2, 1, "float32", None, False),     # EfficientNet's 5x5 on 7x7
    ((1, 48, 14, 14), 5, 2, 2, 1, "float32", "relu6", False),  # stride 2 -> 7x7
    ((3, 16, 13, 13), 5, 1, 2, 1, "float32", "silu", True),  # a prime width, a residual
    ((1, 32, 15, 15), 5, 1, 0, 1, "float32", None, False),   # no padding: the block's copy
    ((2, 16, 11, 11), 5, 1, 4, 2, "float32", None, False),   # dilation 2
    ((1, 16, 9, 9), 7, 1, 3, 1, "float64", "relu", False),
])
def test_channel_vector_tiles(rng, shape, k, stride, padding, dilation, dtype, activation,
                              residual):
    """Long windows on rows shorter than a vector: tiles of channel vectors on an AVX-512 host
    (float32's 16 lanes, float64's 8; elsewhere the row tiles) against float64 torch, with
    the epilogue."""
    c = shape[1]
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((c, 1, k, k)).astype(dtype)
    b = rng.standard_normal(c).astype(dtype)
    expected = depthwise_conv2d_ref(x, w, b, stride, padding, dilation)
    res = rng.standard_normal(expected.shape).astype(dtype) if residual else None
    out = tvmprims.depthwise_conv2d(x, w, b, stride, padding, dilation, activation=activation,
                                    residual=res)
    assert_close(out, epilogue_ref(expected, activation, res), dtype, k * k)


def test_channel_vector_tile_choice():
    """Taken on 64-byte vectors for windows of 5 columns or more on rows shorter than a
    vector, channels a multiple of it, a block's padded input within L1d; the tile at most 14
    accumulators."""
    from tvmprims.ops.depthwise_conv2d import workload
    from tvmprims.schedules.cpu.depthwise_conv2d import channel_vector_tile
    from tvmprims.schedules.hardware import CpuParams
    avx512 = CpuParams.for_registers(32, vector_bytes=64)

    def tile(x, k, stride=1, l1d=48 * 1024, lanes=16, c_out=None):
        wl = workload(x, (c_out or x[1], 1, k, k), stride=stride, padding=k // 2)
        return channel_vector_tile(wl, lanes, avx512, l1d)

    assert tile((1, 1152, 7, 7), 5) == (1, 7)
    assert tile((8, 480, 14, 14), 5) == (1, 14)
    assert tile((1, 672, 14, 14), 5, 2) == (1, 7)
    assert tile((1, 960, 7, 7), 3) is None            # 3x3: row tiles
    assert tile((1, 240, 28, 28), 5) is None          # rows of a vector or more
    assert tile((1, 672, 28, 28), 5, 2) is None       # a 64 KiB block: beyond L1d
    assert tile((1, 480, 14, 14), 5, l1d=16 * 1024) is None
    assert tile((1, 40, 7, 7), 5) is None             # channels not a multiple of 16
    assert tile((1, 32, 7, 7), 5, c_out=64) is None   # a channel multiplier
    assert tile((1, 1152, 7, 7), 5, lanes=8) is None  # AVX2's 32-byte vectors: not measured
