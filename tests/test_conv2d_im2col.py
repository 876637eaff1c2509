"""conv2d by im2col + GEMM (``algo="im2col"``, operator ``conv2d_im2col``) against float64 torch:
odd sizes 3..49, kernels from 1 to about half the input, strides, paddings, dilations, groups,
batches, channel counts, bias; CPU runs, CUDA source/nvcc checks, CPU emulation of the CUDA
kernel, and GPU runs (``cuda`` marker)."""

import itertools
import re

import numpy as np
import pytest

import tvmprims
from tvmprims.ops import conv2d_im2col
from tvmprims.schedules.common import vector_lanes
from tvmprims.target import resolve_target
from tvmprims.testing import assert_close, conv1d_ref, conv2d_ref
from cpu_targets import compile_for, target_params
from cuda_support import SHARED_LIMIT, emulate, launch_dims, shared_arrays

SIZES = (*range(3, 48, 4), 49)  # odd, 3 to 49 in steps of 4 (and 49)
#: (stride, padding, dilation), cycled through the sizes.
PARAMS = [(1, 0, 1), (1, 1, 1), (2, 1, 1), (1, "same", 2), (3, 2, 1), (2, 0, 2), ((1, 2), (2, 0), 1)]
#: (batch, channels in, channels out), cycled.
CHANNELS = [(1, 1, 1), (3, 3, 5), (1, 64, 64), (3, 1, 7), (1, 3, 64), (3, 64, 3), (1, 64, 5)]


def _cases():
    """Each size with a 1x1, a 3x3 and a kernel of about half the input (rectangular inputs
    and kernels on alternate sizes), parameters and channel counts cycled."""
    params, channels = itertools.cycle(PARAMS), itertools.cycle(CHANNELS)
    cases = []
    for h in SIZES:
        w = h if h % 8 == 3 else h + 2
        for k in sorted({1, min(3, h), (h + 1) // 2}):
            stride, padding, dilation = next(params)
            n, c, o = next(channels)
            if c * k * k > 2000:  # keep the reduction (and the test time) moderate
                c = 3
            kw = k if k == 1 or h % 8 == 3 else max(1, k - 1)
            span = (dilation * (k - 1) + 1) if isinstance(dilation, int) else k
            if padding == "same" and stride != 1:
                padding = 1
            if isinstance(padding, int) and h + 2 * padding < span:
                padding = (span - h + 1) // 2
            cases.append(pytest.param((n, c, h, w), (o, c, k, kw), stride, padding, dilation,
                                      id=f"{n}x{c}x{h}x{w}-o{o}-k{k}x{kw}-s{stride}-p{padding}"
                                         f"-d{dilation}"))
    return cases


def _arrays(rng, x_shape, w_shape, bias, dtype):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype) if bias else None
    return x, w, b


def _run(rng, x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1, bias=True,
         dtype="float32"):
    x, w, b = _arrays(rng, x_shape, w_shape, bias, dtype)
    out = tvmprims.conv2d(x, w, b, stride, padding, dilation, groups, algo="im2col")
    ref = conv2d_ref(x, w, b, stride, padding, dilation, groups)
    taps = w_shape[1] * w_shape[2] * w_shape[3]
    assert_close(out, ref, dtype, taps)
    if dtype == "float32":
        # Unit-normal data: rounding error of a sum of `taps` products grows about linearly
        # with its length (about 1e-4 mean absolute error up to ~1000 taps).
        mae = float(np.mean(np.abs(out - ref)))
        assert mae <= 1e-4 * max(1.0, taps / 1000), f"mean absolute error {mae:.3g}"
    return out


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation", _cases())
def test_grid(rng, x_shape, w_shape, stride, padding, dilation):
    _run(rng, x_shape, w_shape, stride, padding, dilation, bias=x_shape[0] == 1)


@pytest.mark.parametrize("threads", [1, 2, 8])
@pytest.mark.parametrize("x_shape,w_shape,groups,padding", [
    ((3, 8, 29, 38), (36, 2, 6, 4), 4, "same"),   # 9 channels a group: tiles of 4 + 4 + 1
    ((2, 6, 17, 19), (15, 2, 3, 3), 3, 1),         # 5 a group
    ((1, 14, 13, 11), (35, 2, 1, 1), 7, 0),        # 5 a group, 1x1
])
def test_groups_with_partial_channel_tiles(rng, tvm_threads, threads, x_shape, w_shape, groups,
                                           padding):
    """Groups whose channel count is not a multiple of the register tile: the padded rows
    of one group's last tile must not be written into the next group's channels (they
    were, racing between parallel tiles, on 2 threads and more)."""
    tvm_threads(threads)
    for _ in range(3):  # a race shows on some runs only
        _run(rng, x_shape, w_shape, padding=padding, groups=groups)


def test_conv1d_groups_with_partial_channel_tiles(rng, tvm_threads):
    tvm_threads(2)
    x = rng.standard_normal((2, 8, 301)).astype(np.float32)
    w = rng.standard_normal((36, 2, 5)).astype(np.float32)
    out = tvmprims.conv1d(x, w, padding=2, groups=4, algo="im2col")
    assert_close(out, conv1d_ref(x, w, padding=2, groups=4), "float32", 10)


@pytest.mark.parametrize("c,o,groups,k", [(4, 6, 2, 3), (6, 9, 3, 1), (64, 64, 4, 3),
                                          (3, 3, 3, 3), (8, 16, 8, 5), (64, 128, 64, 3)])
def test_groups(rng, c, o, groups, k):
    """A GEMM per group, including depthwise (groups == C) and channel multipliers."""
    _run(rng, (3, c, 11, 9), (o, c // groups, k, k), (1, 2), (1, 0), 1, groups)


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation,groups", [
    ((1, 1, 1, 1), (1, 1, 1, 1), 1, 0, 1, 1),
    ((3, 3, 7, 7), (5, 3, 3, 3), 2, 1, 1, 1),
    ((2, 64, 13, 11), (64, 64, 3, 3), 1, 1, 1, 1),
    ((1, 6, 17, 19), (9, 2, 5, 3), (2, 1), (2, 1), (1, 2), 3),
])
def test_float64(rng, x_shape, w_shape, stride, padding, dilation, groups):
    _run(rng, x_shape, w_shape, stride, padding, dilation, groups, dtype="float64")


@pytest.mark.slow
@pytest.mark.parametrize("x_shape,w_shape,stride,padding", [
    ((1, 64, 56, 56), (64, 64, 3, 3), 1, 1),
    ((1, 3, 224, 224), (64, 3, 7, 7), 2, 3),
    ((2, 128, 28, 28), (256, 128, 1, 1), 2, 0),
])
def test_resnet_layers(rng, x_shape, w_shape, stride, padding):
    _run(rng, x_shape, w_shape, stride, padding)


def test_matches_direct_algorithm(rng):
    x, w, b = _arrays(rng, (2, 5, 13, 12), (7, 5, 3, 4), True, "float32")
    direct = tvmprims.conv2d(x, w, b, 2, 1, algo="direct")
    im2col = tvmprims.conv2d(x, w, b, 2, 1, algo="im2col")
    assert im2col.shape == direct.shape and im2col.dtype == np.float32
    np.testing.assert_allclose(im2col, direct, rtol=1e-4, atol=1e-4)


def test_workload_and_errors():
    wl = conv2d_im2col.workload((2, 6, 9, 9), (4, 3, 3, 3), (4,), stride=2, padding=1, groups=2)
    assert wl.op == "conv2d_im2col" and wl["groups"] == 2
    assert wl.output_shape == (2, 4, 5, 5)
    assert conv2d_im2col.gemm_shape(wl) == (2, 2, 2, 25, 27)
    assert wl.flops == tvmprims.api.build_workload_from_shapes(
        "conv2d", [(2, 6, 9, 9), (4, 3, 3, 3), (4,)], params=dict(stride=2, padding=1,
                                                                  groups=2)).flops
    with pytest.raises(ValueError, match="conv2d_im2col expects x of rank 4"):
        conv2d_im2col.workload((6, 9, 9), (4, 6, 3, 3))
    with pytest.raises(ValueError, match="groups=4 must divide input channels"):
        tvmprims.conv2d(np.ones((1, 6, 5, 5), "float32"), np.ones((4, 1, 3, 3), "float32"),
                        groups=4, algo="im2col")
    with pytest.raises(ValueError, match="kernel extent 7 along height"):
        tvmprims.conv2d(np.ones((1, 1, 5, 5), "float32"), np.ones((1, 1, 7, 7), "float32"),
                        algo="im2col")


#: Panel width of the GEMM's B operand (two vectors of float32) per vector ISA, and the
#: number of panels covering the 169 output pixels of 13 x 13.
PANELS = {16: (22, 8), 32: (11, 16), 64: (6, 32)}


@pytest.mark.parametrize("target,vector_bytes", target_params())
def test_cpu_schedule_fuses_im2col_into_packing(target, vector_bytes):
    """The patch matrix is written once, in the GEMM's panel layout, with the padding test in
    that pass; the reshape and bias are folded into the GEMM's store. Built for each CPU
    family: panels of 16 floats on AVX2, 32 on AVX-512, 8 on NEON."""
    compiled = compile_for(target, "conv2d_im2col", (1, 8, 13, 13), (16, 8, 3, 3), (16,),
                           padding=1)
    script = compiled.script()
    blocks = re.findall(r'T\.sblock\("(\w+)"\)', script)
    assert [b for b in blocks if "im2col" in b] == ["im2col_pad"]  # computed in the padding
    panels = re.search(r"im2col_pad = T\.sblock_alloc_buffer\(\((\d+), (\d+), (\d+), (\d+), "
                       r"(\d+)\)", script)
    count, width = PANELS[vector_bytes]
    assert width == 2 * vector_lanes(target, "float32")
    assert panels and panels.groups() == ("1", "1", str(count), "72", str(width))
    assert "conv" not in blocks and "bias_add" not in blocks and "weight_matrix" not in blocks
    assert "T.vectorized" in script and "T.parallel" in script


# --- CUDA ---------------------------------------------------------------------------------------

CUDA_CASES = [
    pytest.param((1, 64, 56, 56), (64, 64, 3, 3), (64,), dict(padding=1), "float32",
                 id="resnet18-layer1"),
    pytest.param((1, 3, 7, 7), (5, 3, 3, 3), (5,), dict(padding=1), "float32", id="primes-bias"),
    pytest.param((2, 5, 13, 11), (7, 5, 3, 2), None,
                 dict(stride=(2, 1), padding=(1, 0), dilation=(2, 3)), "float64",
                 id="strided-dilated-f64"),
    pytest.param((2, 8, 10, 9), (12, 2, 3, 3), (12,), dict(padding=1, groups=4), "float32",
                 id="grouped"),
    pytest.param((1, 1, 1, 1), (1, 1, 1, 1), None, {}, "float32", id="all-ones"),
    pytest.param((1, 3, 224, 224), (64, 3, 7, 7), (64,), dict(stride=2, padding=3), "float32",
                 id="resnet-stem"),
]


def _cuda_kernel(x_shape, w_shape, b_shape, params, dtype):
    shapes = (x_shape, w_shape) + ((b_shape,) if b_shape else ())
    return tvmprims.build("conv2d_im2col", *shapes, dtype=dtype, target="cuda",
                          schedule="hand", **params), shapes


@pytest.mark.parametrize("x_shape,w_shape,b_shape,params,dtype", CUDA_CASES)
def test_cuda_source(x_shape, w_shape, b_shape, params, dtype):
    """One kernel (implicit im2col: no patch matrix in global memory), shared tiles of the
    weight and patch matrices, small register accumulators, float32 stays float32."""
    kernel, _ = _cuda_kernel(x_shape, w_shape, b_shape, params, dtype)
    src = kernel.source()
    names = set(re.findall(r'extern "C" __global__ void (?:__launch_bounds__\(\d+\) )?(\w+)\(',
                           src))
    assert len(names) == 1
    blocks, threads = launch_dims(kernel)
    assert threads <= 1024 and (blocks == 1 or "blockIdx.x" in src)
    params_list = re.search(r"__global__ void[^(]*\(([^)]*)\)", src).group(1)
    assert "im2col" not in params_list and "weight_matrix" not in params_list
    shared = shared_arrays(src)
    assert any(re.fullmatch(r"im2col(_pad)?_shared_ptr", n) for n in shared), shared
    assert any(re.fullmatch(r"weight_matrix(_pad)?_shared_ptr", n) for n in shared), shared
    itemsize = np.dtype(dtype).itemsize
    assert sum(n for _, n in shared.values()) * itemsize < SHARED_LIMIT
    ctype = "double" if dtype == "float64" else "float"
    local = re.findall(rf"\b{ctype}\s+(\w+_local_ptr)\[(\d+)\]", src)
    assert local and all(int(n) <= 16 for _, n in local), local
    if dtype == "float32":
        assert "double" not in src
    assert 'T.sblock("bias_add")' not in kernel.script()


@pytest.mark.parametrize("case", [0, 2, 3])
def test_nvcc_compiles_to_fatbin(case, nvcc_fatbin):
    nvcc_fatbin(_cuda_kernel(*CUDA_CASES[case].values)[0])


@pytest.mark.parametrize("x_shape,w_shape,b_shape,params,dtype", CUDA_CASES[1:5])
def test_cuda_emulated_on_cpu(x_shape, w_shape, b_shape, params, dtype, rng, tmp_path):
    """The generated CUDA run on the CPU (tests/cuda_support.py: fibers for threads,
    bounds-checked shared arrays, guard zones around global buffers)."""
    kernel, shapes = _cuda_kernel(x_shape, w_shape, b_shape, params, dtype)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    out = emulate(kernel, arrays, tmp_path)
    assert_close(out, conv2d_ref(*arrays, **params), dtype, int(np.prod(w_shape[1:])))


@pytest.mark.cuda
@pytest.mark.parametrize("x_shape,w_shape,b_shape,params,dtype", CUDA_CASES)
def test_on_gpu(x_shape, w_shape, b_shape, params, dtype, rng):
    kernel, shapes = _cuda_kernel(x_shape, w_shape, b_shape, params, dtype)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    assert_close(kernel(*arrays), conv2d_ref(*arrays, **params), dtype,
                 int(np.prod(w_shape[1:])))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("x_shape, w_shape, stride, two_cores", [
    ((1, 144, 56, 56), (24, 144, 1, 1), 1, "panel"),  # MobileNetV2's narrow 1x1s
    ((1, 96, 14, 14), (24, 96, 1, 1), 1, "panel"),    # 196 pixels: a ragged last panel
    ((2, 37, 23, 19), (11, 37, 1, 1), 2, "panel"),    # primes, batch 2, stride 2
    ((1, 40, 28, 28), (240, 40, 1, 1), 1, "pass"),    # column panels outer, many rows
    ((1, 64, 14, 14), (384, 64, 1, 1), 1, "core"),    # row tiles outer, small B
    ((1, 37, 7, 7), (78, 37, 1, 1), 1, "pass"),       # 13 row tiles: no even share per core
    ((1, 37, 7, 7), (84, 37, 1, 1), 1, "core"),       # 14 row tiles, 49 pixels: a ragged panel
    ((1, 256, 36, 36), (600, 256, 1, 1), 1, "pass"),  # row tiles outer, B too large to copy
    ((4, 40, 14, 14), (240, 40, 1, 1), 1, "image"),   # row tiles outer, a batch
    ((2, 40, 14, 14), (96, 40, 1, 1), 1, "image"),    # column panels outer, many rows, a batch
    ((3, 29, 9, 9), (101, 29, 1, 1), 1, "pass"),      # 3 images do not share 2 cores evenly
])
def test_where_b_is_packed(rng, tvm_threads, threads, x_shape, w_shape, stride, two_cores):
    """B is packed in a parallel pass of its own, or inside the GEMM's parallel loop right
    before the tiles that read it (per column panel, per image, or all of B per core: the
    placement ``b_packing`` chooses, given here for two cores); results right either way on
    one thread and two."""
    from tvmprims.schedules import gemm_tiling
    from tvmprims.schedules.hardware import cpu_cores
    tvm_threads(threads)
    chosen, real = [], gemm_tiling.b_packing

    def spy(*args, **kwargs):
        chosen.append(real(*args, **kwargs))
        return chosen[-1]

    tvmprims.clear_cache()
    gemm_tiling.b_packing = spy
    try:
        script = tvmprims.build("conv2d_im2col", x_shape, w_shape, stride=stride,
                                schedule="hand").script()
    finally:
        gemm_tiling.b_packing = real
        tvmprims.clear_cache()
    if cpu_cores(resolve_target(None)) == 2:
        assert chosen == [two_cores]
    gemm = script.index('T.sblock("gemm_update")')
    gemm_loop = script.rindex("T.parallel", 0, gemm)
    packing = re.search(r'T\.sblock\("im2col(_pad)?"\)', script).start()
    inside = chosen[0] != "pass"
    assert (packing > gemm_loop) == inside  # inside the GEMM's loop or before it
    if inside:
        assert script.count("T.parallel", packing, gemm) == 0  # one region for both
    _run(rng, x_shape, w_shape, stride)


# --- images as columns --------------------------------------------------------------------------

@pytest.mark.parametrize("images,m,n,k,expected", [
    (8, 2048, 49, 512, True),    # ResNet-50's 512x7x7 -> 2048 at batch 8: 512 -> 416 columns
    (4, 512, 1, 128, True),      # 1x1 planes: 64 -> 16 columns
    (16, 1000, 1, 512, True),
    (8, 1152, 49, 192, True),    # 1.05x measured
    (8, 160, 49, 576, False),    # too few rows to repay packing B element by element
    (8, 512, 196, 128, False),   # 14x14: 1792 -> 1568 columns for 128 taps each
    (2, 1024, 49, 640, False),   # 2 x 64 columns either way
    (8, 320, 49, 1152, False),   # B of the batch (1.8 MB) beyond half of L2
    (1, 2048, 49, 512, False),   # one image
])
def test_images_as_columns_rule(images, m, n, k, expected):
    """The batch's GEMMs run as one where the padding they save outweighs the element-wise
    stores and packing, and B fits half of L2 (AVX-512, 2 MiB of L2: Xeon's parameters)."""
    from tvmprims.schedules.cpu.conv2d_im2col import images_as_columns, padded_columns
    from tvmprims.schedules.hardware import CpuParams
    params = CpuParams(gemm_vectors=2, gemm_in_l2_bytes=1 << 20)
    assert images_as_columns(images, m, n, k, 16, params) is expected
    assert padded_columns(m, images * n, k, 16, params) % 16 == 0


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,groups,dtype", [
    ((3, 128, 1, 1), (512, 128, 1, 1), 1, 0, 1, "float32"),    # 1x1 planes
    ((7, 300, 2, 3), (61, 300, 1, 1), 1, 0, 1, "float32"),     # 6 pixels, primes
    ((6, 160, 6, 6), (97, 160, 1, 1), 2, 0, 1, "float32"),     # strided 1x1
    ((5, 96, 3, 3), (128, 48, 3, 3), 1, 1, 2, "float32"),      # 3x3, padded, two groups
    ((7, 600, 2, 3), (61, 600, 1, 1), 1, 0, 1, "float64"),
])
def test_images_as_columns(rng, tvm_threads, monkeypatch, x_shape, w_shape, stride, padding,
                           groups, dtype):
    """Batches whose GEMMs run as one over (image, pixel) columns (tiles straddling two
    images) against float64 torch, with a bias, ReLU and a residual, on one thread and two.
    The rule's costs are set to 0 so that every vector width takes that path."""
    from tvmprims.ops.conv2d_im2col import gemm_shape, workload
    from tvmprims.schedules.cpu import conv2d_im2col as schedule
    from tvmprims.schedules.hardware import cpu_params
    target = resolve_target(None)
    monkeypatch.setattr(schedule, "STORE_COST", 0)
    monkeypatch.setattr(schedule, "PACK_COST", 0)
    wl = workload(x_shape, w_shape, (w_shape[0],), dtype, stride, padding, groups=groups)
    images, _, m, n, k = gemm_shape(wl)
    assert schedule.images_as_columns(images, m, n, k, vector_lanes(target, dtype),
                                      cpu_params(target), np.dtype(dtype).itemsize)
    x, w, b = _arrays(rng, x_shape, w_shape, True, dtype)
    ref = conv2d_ref(x, w, b, stride, padding, 1, groups)
    residual = rng.standard_normal(ref.shape).astype(dtype)
    expected = np.maximum(ref + residual, 0)
    tvmprims.clear_cache()
    try:
        for threads in (1, 2):
            tvm_threads(threads)
            out = tvmprims.conv2d(x, w, b, stride, padding, 1, groups, algo="im2col",
                                  activation="relu", residual=residual)
            assert_close(out, expected, dtype, w_shape[1] * w_shape[2] * w_shape[3])
    finally:
        tvmprims.clear_cache()


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dtype", [
    ((1, 1031, 5, 7), (67, 1031, 1, 1), 1, 0, "float32"),    # primes, a ragged K block
    ((2, 600, 9, 9), (100, 600, 1, 1), 2, 0, "float32"),     # strided, a batch
    ((1, 64, 9, 11), (97, 64, 3, 3), 1, 1, "float32"),       # 3x3, padded: K = 576
    ((3, 777, 4, 4), (300, 777, 1, 1), 1, 0, "float64"),
])
def test_k_blocked_gemm(rng, tvm_threads, x_shape, w_shape, stride, padding, dtype):
    """Layers whose GEMM is K-blocked (``long_k_blocked``: K over two K blocks) against
    float64 torch, with a bias, ReLU and a residual in the write-back, on one thread and
    two."""
    from tvmprims.ops.conv2d_im2col import gemm_shape, workload
    from tvmprims.schedules.gemm_tiling import long_k_blocked
    from tvmprims.schedules.hardware import cpu_params
    wl = workload(x_shape, w_shape, (w_shape[0],), dtype, stride, padding)
    _, _, m, _, k = gemm_shape(wl)
    assert long_k_blocked(m, k, cpu_params(resolve_target(None)))
    x, w, b = _arrays(rng, x_shape, w_shape, True, dtype)
    ref = conv2d_ref(x, w, b, stride, padding)
    residual = rng.standard_normal(ref.shape).astype(dtype)
    for threads in (1, 2):
        tvm_threads(threads)
        out = tvmprims.conv2d(x, w, b, stride, padding, algo="im2col", activation="relu",
                              residual=residual)
        assert_close(out, np.maximum(ref + residual, 0), dtype, k)
