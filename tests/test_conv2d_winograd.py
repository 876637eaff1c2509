"""Winograd conv2d (``conv2d_winograd``, ``winograd_weight``) against float64 torch.

Sizes: odd H = W from 3 to 47 in steps of 4, 1 (with padding), a prime width with another
height; padding 0/1/2, batch 1 and 3, channels 1, 3 and 64, with and without bias, tiles 2
and 4, through ``tvmprims.conv2d(..., algo=...)`` and through the pretransformed kernel fed
by the ``winograd_weight`` kernel. CUDA schedules are checked for binding, shared memory and
an nvcc fatbin compile here, and run on a GPU when there is one. Speed against direct:
``tvmprims bench --algorithms``.
"""

import itertools
import re
from fractions import Fraction

import numpy as np
import pytest
from cpu_targets import compile_for, target_params

import tvmprims
from tvmprims.ops import conv2d_winograd, winograd_weight
from tvmprims.schedules.cpu import conv2d_winograd as cpu_winograd
from tvmprims.ops._checks import NotApplicable as _NotApplicable
from tvmprims.testing import conv2d_ref

#: float32 bounds on unit-normal data (C <= 64): mean and max absolute error.
F32_MEAN, F32_MAX = 1e-3, 1e-2
#: float64: max absolute error relative to max(1, max |reference|).
F64_REL = 1e-11


def check(out, ref, dtype):
    assert out.shape == ref.shape and out.dtype == np.dtype(dtype)
    err = np.abs(out.astype(np.float64) - ref)
    if dtype == "float64":
        assert err.max() <= F64_REL * max(1.0, np.abs(ref).max()), err.max()
    else:
        assert err.mean() <= F32_MEAN and err.max() <= F32_MAX, (err.mean(), err.max())


# --- The transform matrices ---------------------------------------------------------------------

@pytest.mark.parametrize("tile", [2, 4])
def test_transform_matrices_are_exact(tile):
    """A^T [(G g) * (B^T d)] is the correlation of d with g, in exact arithmetic."""
    at, g_mat, bt = winograd_weight.transform_matrices(tile)
    a = winograd_weight.alpha(tile)
    rng = np.random.default_rng(tile)
    for _ in range(5):
        d = [Fraction(int(v)) for v in rng.integers(-9, 10, a)]
        g = [Fraction(int(v)) for v in rng.integers(-9, 10, 3)]
        u = [sum(Fraction(g_mat[i][j]) * g[j] for j in range(3)) for i in range(a)]
        v = [sum(Fraction(bt[i][j]) * d[j] for j in range(a)) for i in range(a)]
        y = [sum(Fraction(at[k][i]) * u[i] * v[i] for i in range(a)) for k in range(tile)]
        assert y == [sum(d[k + j] * g[j] for j in range(3)) for k in range(tile)]


# --- Correctness on the CPU ----------------------------------------------------------------------

def _cases():
    """(x_shape, out_channels, padding, bias, algo): every odd size 3..47 (and 1, and a prime
    width with another height) with batch, channels, padding, bias and tile cycled."""
    sizes = [(h, h) for h in range(3, 50, 4)] + [(1, 1), (13, 31)]
    batch_channels = itertools.cycle([(1, 1), (3, 3), (1, 64), (3, 1), (1, 3), (3, 64)])
    paddings = itertools.cycle([0, 1, 2])
    algos = itertools.cycle(["winograd2", "winograd4", "winograd"])
    cases = []
    for i, (h, w) in enumerate(sizes):
        n, c = next(batch_channels)
        if h * w > 40 * 40 and n * c > 64:
            n = 1
        padding = max(next(paddings), 1 if h < 3 else 0)
        cases.append(((n, c, h, w), 64 if c == 64 else 5, padding, i % 2 == 0, next(algos)))
    return cases


@pytest.mark.parametrize("x_shape,o,padding,bias,algo", _cases(), ids=str)
def test_conv2d_algo(rng, x_shape, o, padding, bias, algo):
    x = rng.standard_normal(x_shape).astype("float32")
    w = rng.standard_normal((o, x_shape[1], 3, 3)).astype("float32")
    b = rng.standard_normal(o).astype("float32") if bias else None
    out = tvmprims.conv2d(x, w, b, 1, padding, algo=algo)
    check(out, conv2d_ref(x, w, b, 1, padding), "float32")


def _pretransformed(x, w, b, padding, tile, target="llvm"):
    """conv2d through ``winograd_weight`` then the pretransformed ``conv2d_winograd``."""
    dtype = x.dtype.name
    u = tvmprims.build("winograd_weight", w.shape, dtype=dtype, tile=tile, target=target)(w)
    a = tile + 2
    assert u.shape == (a, a, w.shape[0], w.shape[1])
    shapes = (x.shape, u.shape) + ((b.shape,) if b is not None else ())
    kernel = tvmprims.build("conv2d_winograd", *shapes, dtype=dtype, padding=padding, tile=tile,
                            pretransformed=True, target=target)
    return kernel(x, u, *([b] if b is not None else []))


@pytest.mark.parametrize("x_shape,o,padding,tile", [
    ((1, 64, 17, 19), 64, 1, 4), ((3, 3, 9, 5), 7, 2, 2), ((1, 1, 1, 1), 1, 1, 4),
    ((2, 3, 23, 6), 4, 0, 2)], ids=str)
def test_pretransformed(rng, x_shape, o, padding, tile):
    x = rng.standard_normal(x_shape).astype("float32")
    w = rng.standard_normal((o, x_shape[1], 3, 3)).astype("float32")
    b = rng.standard_normal(o).astype("float32")
    check(_pretransformed(x, w, b, padding, tile), conv2d_ref(x, w, b, 1, padding), "float32")


def test_weight_transform_matches_numpy(rng):
    w = rng.standard_normal((5, 3, 3, 3))
    for tile in (2, 4):
        _, g, _ = winograd_weight.transform_matrices(tile)
        g = np.array(g, dtype=np.float64)
        u = tvmprims.build("winograd_weight", w.shape, dtype="float64", tile=tile)(w)
        np.testing.assert_allclose(u, np.einsum("ij,ocjk,lk->iloc", g, w, g), rtol=1e-13,
                                   atol=1e-13)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("tile", [2, 4])
def test_error_over_seeds(seed, tile):
    """Unit-normal data, 64 channels (sums of 576 products): float32 error stays small."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, 64, 28, 28)).astype("float32")
    w = rng.standard_normal((64, 64, 3, 3)).astype("float32")
    check(tvmprims.conv2d(x, w, None, 1, 1, algo=f"winograd{tile}"), conv2d_ref(x, w, None, 1, 1),
          "float32")


@pytest.mark.parametrize("x_shape,o,padding,tile", [
    ((3, 3, 11, 7), 4, 1, 4), ((1, 64, 9, 9), 64, 2, 2), ((1, 1, 1, 1), 2, 1, 2)], ids=str)
def test_float64(rng, x_shape, o, padding, tile):
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((o, x_shape[1], 3, 3))
    b = rng.standard_normal(o)
    ref = conv2d_ref(x, w, b, 1, padding)
    check(tvmprims.conv2d(x, w, b, 1, padding, algo=f"winograd{tile}"), ref, "float64")
    check(_pretransformed(x, w, b, padding, tile), ref, "float64")


# --- Tile columns moved by vector shuffles --------------------------------------------------------

@pytest.mark.parametrize("tile_lanes,lanes,expected", [
    (16, 16, True), (4, 16, True), (3, 16, False), (14, 16, True), (2, 8, True), (1, 4, False),
    (7, 8, True)])
def test_shuffled_from_a_quarter_vector(tile_lanes, lanes, expected):
    assert cpu_winograd.shuffled(tile_lanes, lanes) is expected


@pytest.mark.parametrize("target,vector_bytes", target_params(), ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tile_columns_are_shuffled_on_every_isa(target, vector_bytes, dtype):
    """A row of 14 tiles: both transforms move its tile columns with shuffles (``Shuffle`` in
    the TensorIR, no element-by-element lane inserts left for them), on every ISA."""
    compiled = compile_for(target, "conv2d_winograd", (1, 8, 56, 56), (8, 8, 3, 3),
                           dtype=dtype, padding=1, tile=4)
    assert compiled.script().count("T.Shuffle") >= 2


#: (x shape, out channels, padding, tile, dtype): tile rows of a prime number of tiles (13),
#: of a whole vector (16) and more (18 -> 2 x 9, 32 -> 2 x 16), widths that leave a partial
#: tile, uneven padding, batches, float64 (half the lanes).
SHUFFLED_CASES = [
    ((1, 5, 9, 51), 3, 1, 4, "float32"), ((2, 3, 7, 64), 4, 0, 4, "float32"),
    ((1, 4, 6, 70), 6, (1, 0, 2, 1), 4, "float32"), ((3, 2, 5, 62), 5, 1, 2, "float32"),
    ((1, 16, 12, 131), 8, 1, 4, "float32"), ((2, 3, 8, 29), 3, 1, 2, "float64"),
    ((1, 4, 10, 66), 5, (0, 1, 1, 0), 4, "float64"), ((1, 3, 4, 127), 2, 1, 2, "float64"),
]


@pytest.mark.parametrize("x_shape,o,padding,tile,dtype", SHUFFLED_CASES, ids=str)
@pytest.mark.parametrize("threads", [1, 2])
def test_shuffled_tile_columns(rng, tvm_threads, x_shape, o, padding, tile, dtype, threads):
    """The shuffled gathers and scatters against float64 torch, with bias, on 1 and 2 threads
    (the layers' tile rows take shuffles on any host vector width)."""
    tvm_threads(threads)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal((o, x_shape[1], 3, 3)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    out = tvmprims.conv2d(x, w, b, 1, padding, algo=f"winograd{tile}")
    top, bottom, left, right = padding if isinstance(padding, tuple) else (padding,) * 4
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    check(out, conv2d_ref(padded, w, b, 1, 0), dtype)


#: (x shape, out channels, tile, dtype) of layers that need no padding stage (padding 0, H - 2
#: and W - 2 whole tiles): the input tiles' shuffles read the input argument in place and,
#: without a bias, the output tiles' write the output argument, both declared aligned to
#: their element only (zero-copy calls), which the intrinsics' buffers once refused to match
#: (an InternalError at compile time, found by the fuzz tests at a larger scale).
UNPADDED_CASES = [((1, 1, 4, 10), 1, 2, "float32"), ((1, 3, 6, 66), 4, 4, "float32"),
                  ((2, 2, 10, 34), 3, 2, "float64"), ((1, 2, 14, 18), 2, 4, "float64")]


@pytest.mark.parametrize("x_shape,o,tile,dtype", UNPADDED_CASES, ids=str)
@pytest.mark.parametrize("bias", [False, True])
def test_unpadded_layers(rng, x_shape, o, tile, dtype, bias):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal((o, x_shape[1], 3, 3)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if bias else None
    check(tvmprims.conv2d(x, w, b, algo=f"winograd{tile}"), conv2d_ref(x, w, b, 1, 0), dtype)


def test_unpadded_layer_through_auto(rng):
    """A 64-channel 3x3 layer without padding, which ``algo="auto"`` gives Winograd."""
    x = rng.standard_normal((1, 64, 30, 30)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    check(tvmprims.conv2d(x, w), conv2d_ref(x, w, None, 1, 0), "float32")


@pytest.mark.slow
def test_resnet_layer(rng):
    x = rng.standard_normal((1, 128, 28, 28)).astype("float32")
    w = rng.standard_normal((128, 128, 3, 3)).astype("float32")
    b = rng.standard_normal(128).astype("float32")
    ref = conv2d_ref(x, w, b, 1, 1)
    err = np.abs(tvmprims.conv2d(x, w, b, 1, 1, algo="winograd4") - ref)
    # 1152 products per output: allow for the larger sums.
    assert err.mean() <= 2 * F32_MEAN and err.max() <= 2 * F32_MAX


# --- Parameters Winograd does not support ----------------------------------------------------------

@pytest.mark.parametrize("kwargs,message", [
    (dict(w_shape=(4, 3, 5, 5)), "winograd needs a 3x3 kernel, got 5x5"),
    (dict(w_shape=(4, 3, 3, 1)), "winograd needs a 3x3 kernel, got 3x1"),
    (dict(stride=2), r"winograd needs stride 1, got \(2, 2\)"),
    (dict(dilation=(1, 2)), r"winograd needs dilation 1, got \(1, 2\)"),
    (dict(w_shape=(3, 1, 3, 3), groups=3), "winograd needs groups=1, got groups=3"),
    (dict(tile=3), r"winograd tile must be one of \(2, 4\)"),
])
def test_not_applicable(kwargs, message):
    args = dict(x_shape=(1, 3, 16, 16), w_shape=(4, 3, 3, 3), padding=1)
    args.update(kwargs)
    with pytest.raises(_NotApplicable, match=message):
        conv2d_winograd.workload(**args)


def test_not_applicable_through_the_api(rng):
    x = rng.standard_normal((1, 3, 8, 8)).astype("float32")
    with pytest.raises(_NotApplicable, match="3x3 kernel, got 5x5"):
        tvmprims.conv2d(x, np.ones((2, 3, 5, 5), "float32"), algo="winograd")
    with pytest.raises(_NotApplicable, match="stride 1"):
        tvmprims.conv2d(x, np.ones((2, 3, 3, 3), "float32"), stride=2, algo="winograd2")
    with pytest.raises(_NotApplicable, match="3x3 kernel, got 1x1"):
        winograd_weight.workload((2, 3, 1, 1))


@pytest.mark.parametrize("u_shape", [(4, 4, 8, 3), (6, 6, 8, 4), (6, 5, 8, 3), (6, 6, 8)])
def test_pretransformed_shape_is_validated(u_shape):
    with pytest.raises(ValueError, match=r"must have shape \(alpha, alpha, O, C\) = \(6, 6, O, 3\)"):
        conv2d_winograd.workload((1, 3, 8, 8), u_shape, tile=4, pretransformed=True)


def test_bad_shapes_are_value_errors():
    with pytest.raises(ValueError, match="rank 4"):
        conv2d_winograd.workload((3, 8, 8), (4, 3, 3, 3))
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv2d_winograd.workload((1, 3, 2, 2), (4, 3, 3, 3))
    with pytest.raises(TypeError, match="pretransformed must be a bool"):
        conv2d_winograd.workload((1, 3, 8, 8), (4, 3, 3, 3), pretransformed="yes")


# --- CUDA ------------------------------------------------------------------------------------------

CUDA_CASES = [
    pytest.param((1, 64, 56, 56), (64, 64, 3, 3), (64,), dict(padding=1, tile=4), "float32",
                 id="resnet-w4-bias"),
    pytest.param((2, 3, 7, 5), (4, 3, 3, 3), None, dict(padding=2, tile=2), "float32",
                 id="odd-w2"),
    pytest.param((1, 512, 7, 7), (6, 6, 512, 512), None,
                 dict(padding=1, tile=4, pretransformed=True), "float32", id="pretransformed"),
    pytest.param((1, 1, 1, 1), (1, 1, 3, 3), None, dict(padding=1, tile=4), "float64",
                 id="1x1-f64"),
]


def _cuda_kernel(x_shape, w_shape, b_shape, params, dtype):
    shapes = (x_shape, w_shape) + ((b_shape,) if b_shape else ())
    return tvmprims.build("conv2d_winograd", *shapes, dtype=dtype, target="cuda",
                          schedule="hand", **params)


@pytest.mark.parametrize("x_shape,w_shape,b_shape,params,dtype", CUDA_CASES)
def test_cuda_source(x_shape, w_shape, b_shape, params, dtype):
    """Every stage is a kernel bound to blocks and threads; the GEMM stages its operands in
    shared memory and accumulates in registers."""
    kernel = _cuda_kernel(x_shape, w_shape, b_shape, params, dtype)
    src = kernel.source()
    kernels = re.split(r'extern "C" __global__[^;{]*\{', src)[1:]  # definitions
    # weight transform (unless pretransformed), input transform, GEMM, output transform, crop
    stages = 4 if params.get("pretransformed") else 5
    assert len(kernels) == stages
    # every stage's outermost loop is bound to blockIdx.x, the next to threadIdx.x (checked
    # in the TensorIR: bindings of extent 1 leave no trace in the source)
    script = kernel.script()
    assert len(re.findall(r'thread="blockIdx\.x"', script)) == stages
    nests = re.findall(r'thread="blockIdx\.x".*\n(?:.*thread="vthread\.\w".*\n)*'
                       r'\s*for \w+ in T\.thread_binding\((\d+), thread="threadIdx\.x"\)', script)
    assert len(nests) == stages and all(int(t) <= 1024 for t in nests)
    gemm = [k for k in kernels if "__shared__" in k]
    assert len(gemm) == 1
    assert re.search(r"(U|weight_transform)_shared", gemm[0])
    assert "input_transform_shared" in gemm[0]
    assert "batch_gemm_local" in gemm[0]
    assert ("double" in src) == (dtype == "float64")


@pytest.mark.parametrize("x_shape,w_shape,b_shape,params,dtype", CUDA_CASES[:3])
def test_cuda_nvcc_fatbin(x_shape, w_shape, b_shape, params, dtype, nvcc_fatbin):
    nvcc_fatbin(_cuda_kernel(x_shape, w_shape, b_shape, params, dtype))


def test_cuda_weight_kernel_compiles(nvcc_fatbin):
    kernel = tvmprims.build("winograd_weight", (64, 32, 3, 3), tile=4, target="cuda",
                            schedule="hand")
    assert len(re.findall(r'extern "C" __global__[^;{]*\{', kernel.source())) == 1
    nvcc_fatbin(kernel)


@pytest.mark.cuda
@pytest.mark.parametrize("x_shape,o,padding,tile,dtype", [
    ((1, 64, 56, 56), 64, 1, 4, "float32"), ((3, 3, 13, 31), 5, 2, 2, "float32"),
    ((1, 1, 1, 1), 2, 1, 4, "float64"), ((2, 64, 9, 7), 64, 0, 4, "float64")], ids=str)
def test_on_gpu(rng, x_shape, o, padding, tile, dtype):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal((o, x_shape[1], 3, 3)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    ref = conv2d_ref(x, w, b, 1, padding)
    check(tvmprims.conv2d(x, w, b, 1, padding, algo=f"winograd{tile}", target="cuda",
                          schedule="hand"), ref, dtype)
    check(_pretransformed(x, w, b, padding, tile, target="cuda"), ref, dtype)

