"""Tests of the hand-written CUDA schedules (``schedules/cuda/*.py``).

Four levels, so that most of the checking runs on machines without a GPU:

* **Generated source** (every case, no tools needed): one ``__global__`` kernel, bound to
  ``blockIdx``/``threadIdx`` (at most 1024 threads), register accumulators, the
  ``__shared__`` tiles each schedule promises, under 48 KB of shared memory, the padding
  stage inlined rather than materialised, the right element type.
* **CPU emulation** (needs a C++ compiler): the generated CUDA C run on the CPU by
  ``tests/cuda_support.py``'s emulator (fibers for threads, bounds-checked shared arrays,
  guard zones around the global buffers), compared against float64 torch/numpy references.
* **nvcc** (needs ``nvcc``; the ``nvcc_fatbin`` fixture): a handful of kernels compile to a
  fatbin for sm_90, with ptxas warnings (register spills, local-memory use) promoted to errors.
* **GPU** (``@pytest.mark.cuda``, needs a CUDA GPU): kernels run on the device through
  :class:`tvmprims.Kernel` and match the references.

Cases marked ``slow`` (larger layers, float64 variants of the emulation sweep) run by
default too; ``-m "not slow"`` leaves them out.
"""

import importlib
import re

import numpy as np
import pytest

import tvmprims as tp
from tvmprims import testing
from tvmprims.schedules.gpu_tiling import GPU_MIN_BLOCKS
from cuda_support import SHARED_LIMIT, emulate, launch_dims, shared_arrays

slow = pytest.mark.slow


def case(op, *shapes, dtype="float32", marks=(), id=None, **params):
    """A pytest param for one workload: ``(op, shapes, params, dtype)``."""
    return pytest.param(op, shapes, params, dtype, marks=marks, id=id)


# --- The sweep of workloads --------------------------------------------------------------------

MATMUL = [
    case("matmul", (1024, 1024), (1024, 1024), id="gemm1024"),
    case("matmul", (1024, 1024), (1024, 1024), dtype="float64", id="gemm1024-f64"),
    case("matmul", (127, 13), (13, 131), id="127x13x131"),
    case("matmul", (127, 13), (13, 131), dtype="float64", id="127x13x131-f64"),
    case("matmul", (1, 1), (1, 1), id="1x1x1"),
    case("matmul", (1, 64), (64, 1), id="dot64"),
    case("matmul", (1, 300), (300, 257), id="gemv-row"),
    case("matmul", (257, 7), (7, 1), id="gemv-col"),
    case("matmul", (96, 1000), (1000, 80), id="k1000"),
    case("matmul", (31, 17), (17, 29), dtype="float64", id="primes-f64"),
]

CONVOLVE = [
    case("convolve", (10000,), (1024,), mode=m, id=f"10000x1024-{m}")
    for m in ("full", "same", "valid")
] + [
    case("convolve", (10000,), (1024,), mode="full", dtype="float64", id="10000x1024-full-f64"),
    case("convolve", (10007,), (1021,), mode="same", id="primes-same"),
    case("convolve", (1,), (1,), mode="full", id="1x1"),
    case("convolve", (5,), (3,), mode="valid", id="5x3-valid"),
    case("convolve", (97,), (4,), mode="same", dtype="float64", id="97x4-same-f64"),
    case("convolve", (600,), (600,), mode="full", id="600x600-full"),
    case("convolve", (20000,), (4099,), mode="valid", dtype="float64", id="large-prime-taps-f64"),
]

CONV2D = [
    case("conv2d", (1, 64, 56, 56), (64, 64, 3, 3), padding=1, id="resnet18-layer1"),
    case("conv2d", (1, 64, 56, 56), (64, 64, 3, 3), (64,), padding=1, dtype="float64",
         id="resnet18-layer1-bias-f64"),
    case("conv2d", (1, 3, 224, 224), (64, 3, 7, 7), (64,), stride=2, padding=3, id="resnet-stem"),
    case("conv2d", (2, 128, 28, 28), (256, 128, 1, 1), stride=2, id="1x1-stride2"),
    case("conv2d", (1, 1, 1, 1), (1, 1, 1, 1), id="all-ones"),
    case("conv2d", (1, 3, 7, 7), (5, 3, 3, 3), (5,), padding=1, id="primes-bias"),
    case("conv2d", (2, 5, 13, 11), (7, 5, 3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 3),
         id="strided-dilated"),
    case("conv2d", (1, 8, 10, 10), (12, 2, 3, 3), (12,), padding=1, groups=4, id="grouped"),
    case("conv2d", (1, 6, 9, 9), (6, 3, 3, 3), padding="same", groups=2, dtype="float64",
         id="grouped-same-f64"),
    case("conv2d", (1, 4, 40, 40), (4, 4, 21, 21), padding=10, dilation=1, id="large-kernel"),
    case("conv2d", (1, 2, 64, 64), (3, 2, 5, 5), padding=8, dilation=4, id="dilated-4"),
]

DEPTHWISE = [
    case("depthwise_conv2d", (1, 144, 56, 56), (144, 1, 3, 3), (144,), stride=2, padding=1,
         id="mobilenetv2-s2"),
    case("depthwise_conv2d", (1, 144, 56, 56), (144, 1, 3, 3), stride=2, padding=1,
         dtype="float64", id="mobilenetv2-s2-f64"),
    case("depthwise_conv2d", (1, 32, 112, 112), (32, 1, 3, 3), padding=1, id="mobilenetv2-s1"),
    case("depthwise_conv2d", (1, 1, 1, 1), (1, 1, 1, 1), id="all-ones"),
    case("depthwise_conv2d", (2, 3, 7, 5), (6, 1, 3, 2), (6,), padding=(1, 0), id="multiplier2"),
    case("depthwise_conv2d", (1, 5, 17, 13), (5, 1, 5, 5), stride=3, padding=2, dilation=2,
         dtype="float64", id="strided-dilated-f64"),
    case("depthwise_conv2d", (1, 4, 60, 60), (4, 1, 31, 31), padding=15, id="large-kernel"),
]

ALL = MATMUL + CONVOLVE + CONV2D + DEPTHWISE

#: The shared-memory tiles each schedule promises, as patterns on the buffer names in the
#: generated source (``pad`` is the inlined zero-padding stage, staged instead of the input).
PROMISED_SHARED = {
    "matmul": [r"A(_pad)?_shared", r"B(_pad)?_shared"],
    "convolve": [r"(pad|A)_shared", r"V_shared"],
    "conv2d": [r"(pad|X)_shared", r"W_shared"],
    "depthwise_conv2d": [r"(pad|X)_shared", r"W_shared"],
}


def build(op, shapes, params, dtype, schedule="hand"):
    return tp.build(op, *shapes, dtype=dtype, target="cuda", schedule=schedule, **params)


def planned_shared_elements(wl):
    """Shared-memory elements per block according to the schedules' own tile plans."""
    from tvmprims.schedules.gpu_tiling import conv_shared_elements
    from tvmprims.schedules.cuda import conv2d, convolve, depthwise_conv2d, matmul
    if wl.op == "matmul":
        (m, k), (_, n) = wl.shapes
        tm, tn, bk = matmul.tile_sizes(m, n, k)
        return (tm.size + tn.size) * bk
    if wl.op == "convolve":
        tile, chunk = convolve.tile_sizes(wl.output_shape[0], wl.shapes[1][0],
                                          np.dtype(wl.dtype).itemsize)
        return tile.size + 2 * chunk - 1
    if wl.op == "conv2d":
        return conv_shared_elements(wl, *conv2d.tile_sizes(wl))
    tiles, chunks = depthwise_conv2d.tile_sizes(wl)
    return conv_shared_elements(wl, tiles, (1, *chunks))


# --- Generated source --------------------------------------------------------------------------

@pytest.mark.parametrize("op, shapes, params, dtype", ALL)
def test_generated_source(op, shapes, params, dtype):
    kernel = build(op, shapes, params, dtype)
    src = kernel.source()
    blocks, threads = launch_dims(kernel)
    ctype = "double" if dtype == "float64" else "float"

    kernels = re.findall(r'extern "C" __global__ void (?:__launch_bounds__\((\d+)\) )?(\w+)\(', src)
    assert len({name for _, name in kernels}) == 1, "expected exactly one __global__ kernel"
    assert threads <= 1024
    if threads > 1:
        assert "threadIdx.x" in src
        assert int(kernels[0][0]) == threads  # __launch_bounds__
    if blocks > 1:
        assert "blockIdx.x" in src
    # Enough parallelism: a thread owns at most 16 outputs, and a large output gets at least
    # a block of 64 threads per multiprocessor.
    out_elems = int(np.prod(kernel.workload.output_shape))
    assert blocks * threads >= min(out_elems // 16, GPU_MIN_BLOCKS * 64), (blocks, threads)

    # Register accumulators: a small per-thread array, not a copy of the output.
    local = re.findall(rf"\b{ctype}\s+(\w+_local_ptr)\[(\d+)\]", src)
    assert local, "no local accumulator"
    assert all(int(n) <= 64 for _, n in local), local

    # Shared-memory tiles: present where promised, sized as tiles, under the 48 KB limit.
    shared = shared_arrays(src)
    for pattern in PROMISED_SHARED[op]:
        assert any(re.fullmatch(pattern + "_ptr", name) for name in shared), \
            f"no __shared__ buffer matching {pattern}: {sorted(shared)}"
    itemsize = np.dtype(dtype).itemsize
    total = sum(n for _, n in shared.values()) * itemsize
    assert total < SHARED_LIMIT, f"{total} bytes of shared memory: {shared}"
    assert sum(n for _, n in shared.values()) <= planned_shared_elements(kernel.workload), \
        f"the schedule's shared-memory model underestimates {shared}"
    assert all(t == ctype for t, _ in shared.values())
    assert (ctype + "*") in src.replace(" ", "").replace("__restrict__", "")
    if dtype == "float32":
        assert "double" not in src

    # The zero-padding stage is computed inside the shared-memory fetch, never stored.
    script = kernel.script()
    assert 'T.sblock("pad")' not in script
    assert 'T.sblock("A_pad")' not in script and 'T.sblock("matmul_pad")' not in script
    assert 'T.sblock("bias_add")' not in script  # folded into the write-back


@pytest.mark.parametrize("op, shapes, params, dtype", [
    case("matmul", (127, 13), (13, 131), id="matmul"),
    case("convolve", (1000,), (33,), mode="same", id="convolve"),
    case("conv2d", (1, 3, 9, 9), (4, 3, 3, 3), (4,), padding=1, id="conv2d"),
    case("depthwise_conv2d", (1, 4, 9, 9), (4, 1, 3, 3), stride=2, id="depthwise"),
])
def test_schedule_none_builds_a_kernel(op, shapes, params, dtype):
    """``schedule="none"`` on CUDA applies dlight's Fallback: still a GPU kernel."""
    kernel = build(op, shapes, params, dtype, schedule="none")
    src = kernel.source()
    blocks, threads = launch_dims(kernel)
    assert "__global__" in src and "threadIdx.x" in src and threads > 1
    assert blocks == 1 or "blockIdx.x" in src
    assert "__shared__" not in src  # what the hand schedules add
    hand = build(op, shapes, params, dtype)
    assert hand.source() != src


def test_tile_choice_fills_the_gpu_and_fits_shared_memory():
    from tvmprims.schedules.gpu_tiling import (GPU_MIN_BLOCKS, SHARED_BUDGET, block_count,
                                               conv_shared_elements)
    from tvmprims.schedules.cuda import conv2d, convolve, depthwise_conv2d, matmul

    tm, tn, bk = matmul.tile_sizes(1024, 1024, 1024)
    assert (tm.size, tn.size, bk) == (64, 64, 16) and tm.threads * tn.threads == 256
    tm, tn, _ = matmul.tile_sizes(1, 1000, 1000)
    assert tm.size == 1  # a row vector is not padded to 64 rows
    assert block_count((1024, 1024), matmul.tile_sizes(1024, 1024, 1024)[:2]) >= GPU_MIN_BLOCKS

    tile, chunk = convolve.tile_sizes(11023, 1024, 4)
    assert 1024 % chunk == 0 and block_count((11023,), [tile]) >= GPU_MIN_BLOCKS
    assert convolve.tile_sizes(11027, 1021, 4)[1] == 1021  # prime: whole filter, no guard

    for module, shapes, params in [
        (conv2d, ((1, 64, 56, 56), (64, 64, 3, 3)), dict(padding=1)),
        (conv2d, ((1, 4, 40, 40), (4, 4, 21, 21)), dict(padding=10)),
        (depthwise_conv2d, ((1, 144, 56, 56), (144, 1, 3, 3)), dict(stride=2, padding=1)),
        (depthwise_conv2d, ((1, 4, 60, 60), (4, 1, 31, 31)), dict(padding=15)),
    ]:
        op = importlib.import_module(f"tvmprims.ops.{module.__name__.rsplit('.', 1)[1]}")
        wl = op.workload(*shapes, dtype="float64", **params)
        tiles, chunks = module.tile_sizes(wl)
        full = chunks if len(chunks) == 3 else (1, *chunks)
        assert conv_shared_elements(wl, tiles, full) * 8 <= SHARED_BUDGET
        assert all(t is None or t.threads * t.per_thread >= 1 for t in tiles)


# --- CPU emulation of the generated CUDA (tests/cuda_support.py) -------------------------------

def reference(op, arrays, params):
    """Float64 reference output and reduction length of a workload."""
    if op == "matmul":
        return testing.matmul_ref(*arrays), arrays[0].shape[1]
    if op == "convolve":
        return testing.convolve_ref(*arrays, params.get("mode", "full")), arrays[1].shape[0]
    w = arrays[1]
    reduction = int(np.prod(w.shape[1:]))
    if op == "conv2d":
        ref = testing.conv2d_ref(*arrays, **params)
    else:
        ref = testing.depthwise_conv2d_ref(*arrays, **params)
    return ref, reduction


def _inputs(shapes, dtype, rng):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _check(op, params, dtype, actual, arrays):
    expected, reduction = reference(op, arrays, params)
    testing.assert_close(actual, expected, dtype, reduction)


EMULATED = [
    case("matmul", (127, 13), (13, 131), id="matmul-127x13x131"),
    case("matmul", (31, 17), (17, 29), dtype="float64", id="matmul-primes-f64"),
    case("matmul", (1, 1), (1, 1), id="matmul-1x1x1"),
    case("matmul", (1, 300), (300, 257), id="matmul-gemv-row"),
    case("matmul", (200, 64), (64, 192), marks=slow, id="matmul-200x64x192"),
    case("matmul", (768, 256), (256, 768), marks=slow, id="matmul-768x256x768-4x4-tiles"),
    case("matmul", (96, 1000), (1000, 80), dtype="float64", marks=slow, id="matmul-k1000-f64"),
    case("convolve", (1000,), (100,), mode="full", id="convolve-full"),
    case("convolve", (997,), (13,), mode="same", dtype="float64", id="convolve-same-f64"),
    case("convolve", (1009,), (67,), mode="valid", id="convolve-valid-primes"),
    case("convolve", (1,), (1,), mode="same", id="convolve-1x1"),
    case("convolve", (70000,), (64,), mode="valid", id="convolve-70000x64-4-per-thread"),
    case("convolve", (10000,), (1024,), mode="full", marks=slow, id="convolve-10000x1024-full"),
    case("convolve", (10000,), (1024,), mode="valid", dtype="float64", marks=slow,
         id="convolve-10000x1024-valid-f64"),
    case("conv2d", (1, 3, 7, 7), (5, 3, 3, 3), (5,), padding=1, id="conv2d-primes-bias"),
    case("conv2d", (2, 5, 13, 11), (7, 5, 3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 3),
         dtype="float64", id="conv2d-strided-dilated-f64"),
    case("conv2d", (1, 8, 10, 10), (12, 2, 3, 3), (12,), padding=1, groups=4, id="conv2d-grouped"),
    case("conv2d", (1, 1, 1, 1), (1, 1, 1, 1), id="conv2d-all-ones"),
    # 7 channels in tiles of 4: the padding thread of the last tile (channel 7, never stored)
    # once read past the block's shared input window.
    case("conv2d", (1, 5, 11, 13), (7, 5, 3, 3), padding=1, id="conv2d-partial-channel-tile"),
    case("conv2d", (1, 32, 20, 36), (48, 32, 3, 3), padding=1, id="conv2d-two-chunks"),
    case("conv2d", (1, 2, 24, 24), (3, 2, 11, 11), padding=5, marks=slow, id="conv2d-kernel-11"),
    case("conv2d", (1, 64, 56, 56), (64, 64, 3, 3), (64,), padding=1, marks=slow,
         id="conv2d-resnet18-layer1"),
    case("conv2d", (1, 3, 224, 224), (64, 3, 7, 7), (64,), stride=2, padding=3, marks=slow,
         id="conv2d-resnet-stem"),
    case("depthwise_conv2d", (1, 16, 28, 28), (16, 1, 3, 3), (16,), stride=2, padding=1,
         id="depthwise-s2-bias"),
    case("depthwise_conv2d", (2, 3, 7, 5), (6, 1, 3, 2), padding=(1, 0), dtype="float64",
         id="depthwise-multiplier2-f64"),
    case("depthwise_conv2d", (1, 5, 17, 13), (5, 1, 5, 5), stride=3, padding=2, dilation=2,
         id="depthwise-strided-dilated"),
    case("depthwise_conv2d", (1, 1, 1, 1), (1, 1, 1, 1), id="depthwise-all-ones"),
    case("depthwise_conv2d", (1, 32, 112, 112), (32, 1, 3, 3), padding=1, id="depthwise-s1"),
    case("depthwise_conv2d", (1, 144, 56, 56), (144, 1, 3, 3), (144,), stride=2, padding=1,
         marks=slow, id="depthwise-mobilenetv2"),
]


@pytest.mark.parametrize("op, shapes, params, dtype", EMULATED)
def test_emulated_on_cpu(op, shapes, params, dtype, rng, tmp_path):
    kernel = build(op, shapes, params, dtype)
    arrays = _inputs(shapes, dtype, rng)
    actual = emulate(kernel, arrays, tmp_path)
    _check(op, params, dtype, actual, arrays)


@pytest.mark.parametrize("mutation", ["index", "barrier"])
def test_emulator_catches_a_wrong_kernel(mutation, rng, tmp_path):
    """The emulation is a real check: a kernel with a broken index, or without its
    ``__syncthreads`` (threads read shared tiles before the others have written them),
    fails it."""
    kernel = build("matmul", ((31, 17), (17, 29)), {}, "float32")
    arrays = _inputs(((31, 17), (17, 29)), "float32", rng)
    if mutation == "index":  # every thread reads the first element of the A tile
        source = re.sub(r"A_pad_shared_ptr\[\(", "A_pad_shared_ptr[0*(", kernel.source())
    else:
        source = kernel.source().replace("__syncthreads();", "")
    assert source != kernel.source()

    class Mutant:
        workload, ir_module = kernel.workload, kernel.ir_module
        script = kernel.script

        def source(self):
            return source

    actual = emulate(Mutant(), arrays, tmp_path)
    with pytest.raises(AssertionError):
        _check("matmul", {}, "float32", actual, arrays)


# --- nvcc ---------------------------------------------------------------------------------------

NVCC = [
    case("matmul", (1024, 1024), (1024, 1024), id="matmul-gemm1024"),
    case("matmul", (127, 13), (13, 131), dtype="float64", id="matmul-127x13x131-f64"),
    case("convolve", (10000,), (1024,), mode="full", id="convolve-10000x1024-full"),
    case("conv2d", (1, 64, 56, 56), (64, 64, 3, 3), (64,), padding=1, id="conv2d-resnet18"),
    case("conv2d", (2, 5, 13, 11), (7, 5, 3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 3),
         dtype="float64", id="conv2d-strided-dilated-f64"),
    case("depthwise_conv2d", (1, 144, 56, 56), (144, 1, 3, 3), stride=2, padding=1,
         id="depthwise-mobilenetv2"),
]


@pytest.mark.parametrize("op, shapes, params, dtype", NVCC)
def test_nvcc_compiles_to_fatbin(op, shapes, params, dtype, nvcc_fatbin):
    nvcc_fatbin(build(op, shapes, params, dtype))  # spills and local memory are errors


# --- On the GPU ---------------------------------------------------------------------------------

GPU = [
    case("matmul", (1024, 1024), (1024, 1024), id="matmul-gemm1024"),
    case("matmul", (127, 13), (13, 131), id="matmul-127x13x131"),
    case("matmul", (127, 13), (13, 131), dtype="float64", id="matmul-127x13x131-f64"),
    case("matmul", (1, 1), (1, 1), id="matmul-1x1x1"),
    case("convolve", (10000,), (1024,), mode="full", id="convolve-full"),
    case("convolve", (10000,), (1024,), mode="same", id="convolve-same"),
    case("convolve", (10000,), (1024,), mode="valid", dtype="float64", id="convolve-valid-f64"),
    case("convolve", (10007,), (1021,), mode="same", id="convolve-primes"),
    case("conv2d", (1, 64, 56, 56), (64, 64, 3, 3), padding=1, id="conv2d-resnet18"),
    case("conv2d", (1, 64, 56, 56), (64, 64, 3, 3), (64,), padding=1, dtype="float64",
         id="conv2d-resnet18-bias-f64"),
    case("conv2d", (2, 5, 13, 11), (7, 5, 3, 2), (7,), stride=(2, 1), padding=(1, 0),
         dilation=(2, 3), id="conv2d-strided-dilated"),
    case("conv2d", (1, 8, 10, 10), (12, 2, 3, 3), padding=1, groups=4, id="conv2d-grouped"),
    case("conv2d", (1, 1, 1, 1), (1, 1, 1, 1), id="conv2d-all-ones"),
    case("conv2d", (1, 3, 224, 224), (64, 3, 7, 7), (64,), stride=2, padding=3, id="conv2d-stem"),
    case("depthwise_conv2d", (1, 144, 56, 56), (144, 1, 3, 3), (144,), stride=2, padding=1,
         id="depthwise-mobilenetv2"),
    case("depthwise_conv2d", (1, 144, 56, 56), (144, 1, 3, 3), stride=2, padding=1,
         dtype="float64", id="depthwise-mobilenetv2-f64"),
    case("depthwise_conv2d", (2, 3, 7, 5), (6, 1, 3, 2), (6,), padding=(1, 0),
         id="depthwise-multiplier2"),
    case("depthwise_conv2d", (1, 4, 60, 60), (4, 1, 31, 31), padding=15,
         id="depthwise-large-kernel"),
]


@pytest.mark.cuda
@pytest.mark.parametrize("op, shapes, params, dtype", GPU)
def test_on_gpu(op, shapes, params, dtype, rng):
    kernel = build(op, shapes, params, dtype)
    arrays = _inputs(shapes, dtype, rng)
    _check(op, params, dtype, kernel(*arrays), arrays)


@pytest.mark.cuda
def test_schedule_none_runs_on_gpu(rng):
    shapes, params = ((1, 3, 9, 9), (4, 3, 3, 3), (4,)), dict(padding=1)
    kernel = build("conv2d", shapes, params, "float32", schedule="none")
    arrays = _inputs(shapes, "float32", rng)
    _check("conv2d", params, "float32", kernel(*arrays), arrays)


# --- Pooling, add, concat, scale_channels: one output per thread ------------------------------

ELEMENTWISE = [
    case("max_pool2d", (1, 64, 112, 112), kernel_size=3, stride=2, padding=1, id="max-stem"),
    case("max_pool2d", (2, 3, 7, 7), kernel_size=3, stride=2, padding=1, ceil_mode=True,
         dtype="float64", id="max-ceil-f64"),
    case("max_pool2d", (1, 5, 13, 11), kernel_size=(3, 2), stride=(2, 3), padding=1,
         dilation=(2, 1), id="max-dilated"),
    case("avg_pool2d", (2, 3, 7, 7), kernel_size=3, stride=2, padding=1, ceil_mode=True,
         count_include_pad=False, id="avg-ceil-exclude-pad"),
    case("avg_pool2d", (1, 256, 28, 28), kernel_size=2, stride=2, dtype="float64", id="avg-2x2"),
    case("adaptive_avg_pool2d", (1, 2048, 7, 7), output_size=(1, 1), id="global-avg"),
    case("adaptive_avg_pool2d", (1, 3, 5, 7), output_size=(3, 2), id="adaptive-avg-5x7"),
    case("adaptive_max_pool2d", (2, 5, 13, 13), output_size=(6, 6), dtype="float64",
         id="adaptive-max-13"),
    case("add", (1000,), (1000,), relu=True, id="add-relu"),
    case("add", (7,), (7,), dtype="float64", id="add-7-f64"),
    case("concat", (1, 3, 49), (1, 5, 49), (1, 1, 49), id="concat-3"),
    case("concat", (2, 4, 8), (2, 1, 8), dtype="float64", id="concat-f64"),
    case("scale_channels", (2, 96, 7, 7), (2, 96, 1, 1), id="scale-channels-se"),
    case("scale_channels", (1, 5, 3, 1), (1, 5), dtype="float64", id="scale-channels-f64"),
]

ELEMENTWISE_REFERENCES = {
    "max_pool2d": testing.max_pool2d_ref, "avg_pool2d": testing.avg_pool2d_ref,
    "adaptive_avg_pool2d": testing.adaptive_avg_pool2d_ref,
    "adaptive_max_pool2d": testing.adaptive_max_pool2d_ref,
}


def _elementwise_reference(op, arrays, params):
    if op == "add":
        return testing.add_ref(*arrays, **params)
    if op == "concat":
        return testing.concat_ref(arrays, axis=1)
    if op == "scale_channels":
        return testing.scale_channels_ref(*arrays)
    return ELEMENTWISE_REFERENCES[op](*arrays, **params)


@pytest.mark.parametrize("op, shapes, params, dtype", ELEMENTWISE)
def test_elementwise_generated_source(op, shapes, params, dtype):
    """One kernel, threads and blocks bound, an output per thread, a register accumulator for
    the pools, the padding inlined, the right element type."""
    kernel = build(op, shapes, params, dtype)
    src = kernel.source()
    blocks, threads = launch_dims(kernel)
    ctype = "double" if dtype == "float64" else "float"
    kernels = re.findall(r'extern "C" __global__ void (?:__launch_bounds__\((\d+)\) )?(\w+)\(', src)
    assert len({name for _, name in kernels}) == 1
    assert 1 < threads <= 1024 or int(np.prod(kernel.workload.output_shape)) == threads
    assert "threadIdx.x" in src and (blocks == 1 or "blockIdx.x" in src)
    assert blocks * threads >= int(np.prod(kernel.workload.output_shape))
    if "pool" in op:
        assert re.search(rf"\b{ctype}\s+pool_local_ptr\[1\]", src), "no register accumulator"
    assert "__shared__" not in src
    assert 'T.sblock("pad")' not in kernel.script()
    if dtype == "float32":
        assert "double" not in src


@pytest.mark.parametrize("op, shapes, params, dtype", ELEMENTWISE)
def test_elementwise_emulated_on_cpu(op, shapes, params, dtype, rng, tmp_path):
    kernel = build(op, shapes, params, dtype)
    arrays = _inputs(shapes, dtype, rng)
    actual = emulate(kernel, arrays, tmp_path)
    expected = _elementwise_reference(op, arrays, params)
    testing.assert_close(actual, expected, dtype, int(np.prod(shapes[0][2:])) if "pool" in op
                         else 1)


@pytest.mark.cuda
@pytest.mark.parametrize("op, shapes, params, dtype", ELEMENTWISE)
def test_elementwise_on_gpu(op, shapes, params, dtype, rng):
    kernel = build(op, shapes, params, dtype)
    arrays = _inputs(shapes, dtype, rng)
    testing.assert_close(kernel(*arrays), _elementwise_reference(op, arrays, params), dtype,
                         int(np.prod(shapes[0][2:])) if "pool" in op else 1)
