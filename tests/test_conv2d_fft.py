"""conv2d by DFTs (``algo="fft"``) against float64 torch, on CPU, CUDA source, nvcc and GPU.

Accuracy: the DFT stages round at every step, so float32 results are checked by their error
statistics relative to the output's scale ``s = sqrt(C/groups * KH * KW)`` (the standard
deviation of an output for unit-normal inputs): mean absolute error <= ``2e-6 * s`` and
maximum <= ``2e-5 * s`` (measured over the grid and two seeds: at most 3.2e-7 * s and
2.1e-6 * s; a wrong twiddle or index gives errors of order s). In absolute terms that is a
mean error below 1e-4 for every case here, far inside the 1e-2 asked for. float64 uses the library's usual ``assert_close``.
"""

import itertools
import re

import numpy as np
import pytest

import tvmprims
from tvmprims import testing
from tvmprims.ops import conv2d_fft
from tvmprims.ops._checks import NotApplicable
from tvmprims.schedules.common import divisor_at_most
from tvmprims.schedules.cuda.conv2d_fft import PRODUCT_ROWS

from new_process import run_python

slow = pytest.mark.slow

MEAN_TOL = 2e-6
MAX_TOL = 2e-5

#: Odd spatial sizes 3, 7, ..., 47.
SIZES = tuple(range(3, 50, 4))


def _data(rng, x_shape, w_shape, bias, dtype):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype) if bias else None
    return x, w, b


def _check_float32(out, ref, w_shape):
    scale = float(np.sqrt(np.prod(w_shape[1:])))
    err = np.abs(out.astype(np.float64) - ref)
    assert out.shape == ref.shape and out.dtype == np.float32
    assert err.mean() <= MEAN_TOL * scale, f"mean error {err.mean():.3g} (scale {scale:.3g})"
    assert err.max() <= MAX_TOL * scale, f"max error {err.max():.3g} (scale {scale:.3g})"


def _run(rng, x_shape, w_shape, padding=0, dilation=1, groups=1, bias=True, dtype="float32",
         target=None):
    x, w, b = _data(rng, x_shape, w_shape, bias, dtype)
    out = tvmprims.conv2d(x, w, b, 1, padding, dilation, groups, algo="fft", target=target)
    ref = testing.conv2d_ref(x, w, b, 1, padding, dilation, groups)
    if dtype == "float64":
        testing.assert_close(out, ref, dtype, int(np.prod(w_shape[1:])))
    else:
        _check_float32(out, ref, w_shape)


def _grid():
    """Every odd size 3..47 as H, paired with a different W, kernels from 1 to about half
    the input (non-square), and padding, dilation, groups, batch, channels and bias cycled
    through so that each value meets several others."""
    params = itertools.cycle([  # (padding, dilation, groups, batch, channels, bias)
        (0, 1, 1, 1, 1, True), ("same", 1, 1, 3, 3, False), ((2, 1), (1, 2), 1, 1, 16, True),
        (1, 2, 3, 1, 3, True), ((0, 3), 1, 4, 3, 16, False), ("same", (2, 1), 16, 1, 16, True),
    ])
    cases = []
    for i, h in enumerate(SIZES):
        w = SIZES[(i * 5 + 3) % len(SIZES)]
        padding, dilation, groups, n, c, bias = next(params)
        kh = max(1, (h // 2 + 1) * (i % 3 + 1) // 3)
        kw = max(1, (w // 2 + 1) * ((i + 1) % 3 + 1) // 3)
        dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
        pads = (0, 0) if padding == "same" else (
            (padding, padding) if isinstance(padding, int) else padding)
        # Shrink the kernel until its dilated extent fits the padded input.
        while dh * (kh - 1) + 1 > h + 2 * pads[0]:
            kh -= 1
        while dw * (kw - 1) + 1 > w + 2 * pads[1]:
            kw -= 1
        o = c if groups > 1 else (5 if c < 16 else 16)
        cases.append(pytest.param((n, c, h, w), (o, c // groups, kh, kw), padding, dilation,
                                  groups, bias, id=f"{n}x{c}x{h}x{w}-k{kh}x{kw}-p{padding}-d"
                                  f"{dilation}-g{groups}-{'bias' if bias else 'nobias'}"))
    return cases


@pytest.mark.parametrize("x_shape, w_shape, padding, dilation, groups, bias", _grid())
def test_grid(rng, x_shape, w_shape, padding, dilation, groups, bias):
    _run(rng, x_shape, w_shape, padding, dilation, groups, bias)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("x_shape, w_shape, padding", [
    ((1, 16, 31, 29), (16, 16, 15, 9), 7),
    ((3, 3, 17, 23), (4, 3, 1, 11), (0, 5)),
])
def test_seeds(seed, x_shape, w_shape, padding):
    _run(np.random.default_rng(seed), x_shape, w_shape, padding)


@slow
def test_large_kernel_layer(rng):
    _run(rng, (1, 16, 64, 64), (16, 16, 15, 15), "same")


@pytest.mark.parametrize("x_shape, w_shape, padding, dilation, groups", [
    ((1, 1, 3, 3), (1, 1, 1, 1), 0, 1, 1),
    ((3, 4, 13, 11), (6, 2, 5, 4), (2, 1), (1, 2), 2),
    ((1, 3, 25, 19), (2, 3, 12, 9), "same", 1, 1),
])
def test_float64(rng, x_shape, w_shape, padding, dilation, groups):
    _run(rng, x_shape, w_shape, padding, dilation, groups, dtype="float64")


@pytest.mark.parametrize("stride, shown", [(2, "(2, 2)"), ((1, 3), "(1, 3)")])
def test_stride_not_applicable(stride, shown):
    x, w = np.zeros((1, 2, 9, 9), "float32"), np.zeros((3, 2, 3, 3), "float32")
    with pytest.raises(NotApplicable, match=re.escape(
            f"fft convolution needs stride 1, got stride {shown}")):
        tvmprims.conv2d(x, w, stride=stride, algo="fft")


def test_bad_shapes_still_raise_value_error():
    with pytest.raises(ValueError, match="kernel extent"):
        conv2d_fft.workload((1, 1, 4, 4), (1, 1, 5, 5))
    with pytest.raises(ValueError, match="groups=2 must divide"):
        conv2d_fft.workload((1, 3, 8, 8), (2, 1, 3, 3), groups=2)


def test_workload_sizes_and_flops():
    wl = conv2d_fft.workload((1, 16, 64, 64), (16, 16, 7, 7), dtype="float32", padding="same")
    assert wl.op == "conv2d_fft" and wl.output_shape == (1, 16, 64, 64)
    assert conv2d_fft.transform_sizes(wl) == (70, 70, 36, 40)
    # GFLOP/s are quoted against the direct convolution's count.
    assert wl.flops == 2 * 16 * 16 * 64 * 64 * 49


def test_transforms_are_tvm_stages():
    """The DFTs are TensorIR blocks of the kernel (no library FFT anywhere)."""
    script = tvmprims.build("conv2d_fft", (1, 2, 9, 9), (3, 2, 3, 3), schedule="hand").script()
    for stage in ("dft_x", "dft_y", "filter_x", "filter_y", "product", "idft_y", "idft_x"):
        assert f'T.sblock("{stage}' in script
    assert "T.parallel" in script and "T.vectorized" in script


# --- CUDA ---------------------------------------------------------------------------------------

CUDA_CASES = [
    pytest.param(((1, 64, 56, 56), (64, 64, 7, 7), (64,)), dict(padding=3), "float32",
                 id="64ch-k7-bias"),
    pytest.param(((2, 4, 11, 13), (6, 2, 5, 3)), dict(padding=(2, 1), dilation=(1, 2), groups=2),
                 "float64", id="grouped-dilated-f64"),
]


def _cuda_kernel(shapes, params, dtype):
    return tvmprims.build("conv2d_fft", *shapes, dtype=dtype, target="cuda", schedule="hand",
                          **params)


@pytest.mark.parametrize("shapes, params, dtype", CUDA_CASES)
def test_cuda_source(shapes, params, dtype):
    kernel = _cuda_kernel(shapes, params, dtype)
    src, script = kernel.source(), kernel.script()
    names = set(re.findall(r'extern "C" __global__ void __launch_bounds__\(\d+\) (\w+)\(', src))
    # One kernel per stage: 2 cos/sin tables, 6 twiddle matrices, 7 GEMM stages.
    assert len(names) == 15
    # Every block of the scheduled PrimFunc sits under a blockIdx and a threadIdx binding.
    assert script.count('thread="blockIdx.x"') == 15 and script.count('thread="threadIdx.x"') == 15
    ctype = "double" if dtype == "float64" else "float"
    local = dict(re.findall(rf"\b{ctype}\s+(\w+)_local_ptr\[(\d+)\]", src))
    rows = divisor_at_most(shapes[1][0] // params.get("groups", 1), PRODUCT_ROWS)
    assert int(local["product"]) == 2 * rows  # re, im x a tile of output channels
    assert {"dft_x", "dft_y", "filter_y", "product", "idft_y", "idft_x"} <= set(local)
    assert 'T.sblock("bias_add")' not in script  # folded into the last write-back
    if dtype == "float32":
        assert "double" not in src


@pytest.mark.parametrize("shapes, params, dtype", CUDA_CASES)
def test_nvcc_compiles_to_fatbin(shapes, params, dtype, nvcc_fatbin):
    # Spills and local memory are errors, except in float64: CUDA's double cos/sin carry a
    # slow path for huge arguments (never taken: the angles are below 2*pi) with a stack frame.
    nvcc_fatbin(_cuda_kernel(shapes, params, dtype), strict=dtype == "float32")


@pytest.mark.cuda
@pytest.mark.parametrize("x_shape, w_shape, padding, dilation, groups, dtype", [
    ((1, 64, 56, 56), (64, 64, 7, 7), 3, 1, 1, "float32"),
    ((3, 3, 17, 23), (4, 3, 1, 11), (0, 5), 1, 1, "float32"),
    ((2, 4, 11, 13), (6, 2, 5, 3), (2, 1), (1, 2), 2, "float64"),
    ((1, 16, 47, 31), (16, 1, 9, 9), "same", 2, 16, "float32"),
])
def test_on_gpu(rng, x_shape, w_shape, padding, dilation, groups, dtype):
    _run(rng, x_shape, w_shape, padding, dilation, groups, dtype=dtype, target="cuda")


# --- the filter spectrum in blocks of frequency rows (layers over their scratch budget) -------

@pytest.fixture
def spectrum_blocks(monkeypatch, request):
    """Every layer over its scratch budget (budget 0), blocks of ``request.param`` bytes of
    filter spectrum; kernels compiled afresh."""
    from tvmprims import workload
    from tvmprims.schedules.cpu import conv2d_fft as cpu_fft
    monkeypatch.setattr(workload, "SCRATCH_FLOOR", 0)
    monkeypatch.setattr(workload, "SCRATCH_FACTOR", 0)
    monkeypatch.setattr(cpu_fft, "SPECTRUM_BLOCK_BYTES", request.param)
    tvmprims.clear_cache()
    yield request.param
    tvmprims.clear_cache()


@pytest.mark.parametrize("spectrum_blocks", [1, 20000], indirect=True,
                         ids=["one-row-blocks", "several-row-blocks"])
@pytest.mark.parametrize("x_shape, w_shape, padding, dilation, groups, dtype", [
    ((1, 3, 13, 11), (5, 3, 3, 3), 1, 1, 1, "float32"),
    ((3, 4, 17, 7), (6, 2, 5, 4), (2, 1), (1, 2), 2, "float32"),    # P = 21 rows, a prime
    ((2, 16, 9, 23), (16, 1, 3, 7), "same", 1, 16, "float32"),
    ((1, 1, 1, 1), (1, 1, 1, 1), 0, 1, 1, "float32"),
    ((2, 5, 19, 13), (7, 5, 4, 3), (0, 2), 1, 1, "float64"),
])
def test_filter_spectrum_in_row_blocks(rng, spectrum_blocks, x_shape, w_shape, padding,
                                       dilation, groups, dtype):
    _run(rng, x_shape, w_shape, padding, dilation, groups, dtype=dtype)


def test_row_blocks_keep_a_large_layer_within_its_scratch_budget(tmp_path):
    """64 -> 64 channels on a 160 x 160 image: the whole filter spectrum is 467 MB, the
    layer's data 13 MB and its scratch budget 210 MB; the process's peak memory grows by
    less than the budget (in a new process, whose peak starts low)."""
    out = run_python(["-c", """
        import resource, numpy as np, tvmprims
        from tvmprims.testing import conv2d_ref
        rng = np.random.default_rng(0)
        x = rng.standard_normal((1, 64, 160, 160)).astype(np.float32)
        w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
        kernel = tvmprims.build("conv2d_fft", x.shape, w.shape, padding=1)
        print(kernel.workload.scratch_budget)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        out = kernel.run_checked([x, w])
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before)
        print(np.abs(out - conv2d_ref(x, w, padding=1)).max())
    """], {"TVMPRIMS_KERNEL_CACHE": "off"}, timeout=600)
    budget, grown, error = (float(v) for v in out.split())
    assert budget < 250e6 and grown < budget, (grown, budget)
    assert error < 1e-3
