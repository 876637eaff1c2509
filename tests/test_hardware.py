"""The CPU hardware model (``schedules/hardware.py``) and, for every CPU family tvmprims
supports, the code the hand schedules generate: compiled for explicit AVX2, AVX-512 and AArch64
targets on any host."""

import re

import numpy as np
import pytest

from tvmprims._tvm import Target
from tvmprims.schedules.common import vector_lanes
from tvmprims.schedules import gpu_tiling
from tvmprims.schedules.hardware import (DEFAULT_CACHES, DEFAULT_GPU, DEFAULT_SM_COUNT,
                                         CpuCaches, CpuModel, CpuParams, GpuModel,
                                         _sysfs_caches, cpu_model, cpu_params, gpu_model,
                                         host_caches, is_host_cpu)
from tvmprims.target import resolve_target
from cpu_targets import CPU_TARGETS, REGISTERS, compile_for, cpu_target

X86 = "x86_64-linux-gnu"
ARM64 = "aarch64-linux-gnu"

#: (mcpu, mtriple, mattr) -> (isa, vector bytes, vector registers).
MODELS = [
    (("znver3", X86, None), ("avx2", 32, 16)),
    (("haswell", X86, None), ("avx2", 32, 16)),
    (("sandybridge", X86, None), ("avx", 32, 16)),
    (("znver4", X86, None), ("avx512", 64, 32)),
    (("skylake-avx512", X86, None), ("avx512", 64, 32)),
    (("icelake-server", X86, None), ("avx512", 64, 32)),
    (("x86-64", X86, None), ("sse", 16, 16)),
    (("cortex-a72", ARM64, None), ("neon", 16, 32)),
    (("neoverse-n1", ARM64, None), ("neon", 16, 32)),
    (("neoverse-v1", ARM64, None), ("neon", 16, 32)),  # SVE: still 16-byte NEON vectors
    (("cortex-a9", "armv7a-linux-gnueabihf", None), ("neon", 16, 16)),
    # mattr turns features off and on: the model follows the features, not the name
    (("znver4", X86, ("-avx512f",)), ("avx2", 32, 16)),
    (("haswell", X86, ("+avx512f",)), ("avx512", 64, 32)),
]


def _target(mcpu, triple, mattr):
    config = {"kind": "llvm", "mcpu": mcpu, "mtriple": triple}
    if mattr:
        config["mattr"] = list(mattr)
    return Target(config)


MODEL_IDS = [mcpu + "".join(mattr or ()) for (mcpu, _, mattr), _ in MODELS]


@pytest.mark.parametrize("spec,expected", MODELS, ids=MODEL_IDS)
def test_model_of_each_target(spec, expected):
    assert cpu_model(_target(*spec)) == CpuModel(*expected)


@pytest.mark.parametrize("spec,expected", MODELS, ids=MODEL_IDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lanes_times_itemsize_is_the_vector_width(spec, expected, dtype):
    target = _target(*spec)
    lanes = vector_lanes(target, dtype)
    assert lanes * np.dtype(dtype).itemsize == cpu_model(target).vector_bytes
    assert lanes == cpu_model(target).lanes(dtype)


def test_lanes_are_those_of_the_cpu_name_list_it_replaced():
    """Same lanes as before the model for the CPUs tvmprims named (schedules unchanged)."""
    old = {"znver3": 8, "haswell": 8, "znver4": 16, "znver5": 16, "skylake-avx512": 16,
           "cascadelake": 16, "cooperlake": 16, "icelake-server": 16, "sapphirerapids": 16}
    for mcpu, lanes in old.items():
        assert vector_lanes(cpu_target(mcpu), "float32") == lanes, mcpu
        assert vector_lanes(cpu_target(mcpu), "float64") == lanes // 2, mcpu
    arm = cpu_target("cortex-a72", ARM64)
    assert (vector_lanes(arm, "float32"), vector_lanes(arm, "float64")) == (4, 2)


def test_model_is_cached_per_target():
    a, b = cpu_target("znver4"), cpu_target("znver4")
    assert cpu_model(a) is cpu_model(a) is cpu_model(b)  # equal targets share one entry
    assert cpu_model(cpu_target("znver4", cores=8)) is cpu_model(a)  # cores do not matter
    assert cpu_model(cpu_target("znver3")) != cpu_model(a)


def test_host_model_is_one_of_the_known_widths():
    model = cpu_model(resolve_target("llvm"))
    assert model.vector_bytes in (16, 32, 64) and model.vector_registers in (16, 32)


def test_the_host_target_is_the_host_cpu_and_others_are_not():
    assert is_host_cpu(resolve_target("llvm"))
    assert not is_host_cpu(cpu_target("cortex-a72", "aarch64-linux-gnu"))
    other = "znver3" if resolve_target("llvm").attrs.get("mcpu") != "znver3" else "haswell"
    assert not is_host_cpu(cpu_target(other))


def test_cuda_target_has_no_cpu_model():
    with pytest.raises(ValueError, match="needs an 'llvm' target"):
        cpu_model(Target({"kind": "cuda", "arch": "sm_90"}))


# --- Schedule parameters -------------------------------------------------------------------------

#: The documented CpuParams per vector ISA: (conv2d, Winograd, FFT register budgets, FMA
#: chains, GEMM rows x vectors, K unroll, convolve vectors, depthwise vectors). 32-register ISAs
#: (AVX-512, AArch64 NEON) keep the AVX2 values until measured on them.
AVX2_PARAMS = (10, 12, 12, 8, 4, 2, 4, 4, 4)
#: 32-register ISAs differ only in the GEMMs' register tiles (proportions of the register
#: file: 6 x 2 of 32, the largest tile under TVM's 1 KiB stack-array limit, against 4 x 2 of 16,
#: and the blocked GEMM's 24 of 32 as 12 of 16 on AVX2).
WIDE_PARAMS = AVX2_PARAMS[:4] + (6,) + AVX2_PARAMS[5:] + (24,)
DOCUMENTED_PARAMS = {"avx2": AVX2_PARAMS, "avx": AVX2_PARAMS, "sse": AVX2_PARAMS,
                     "avx512": WIDE_PARAMS, "neon": WIDE_PARAMS}
#: AVX-512's one-vector and narrower-vector conv2d tiles (measured on an Intel Xeon).
AVX512_CONV2D = {"conv2d_one_vector_registers": 14, "conv2d_narrow_registers": 12}


@pytest.mark.parametrize("spec,expected", MODELS, ids=MODEL_IDS)
def test_schedule_params_are_the_documented_values(spec, expected):
    target = _target(*spec)
    params = cpu_params(target)
    documented = DOCUMENTED_PARAMS[expected[0]] if expected[2] == 32 else AVX2_PARAMS
    conv2d = AVX512_CONV2D if expected[0] == "avx512" else {}
    assert params == cpu_model(target).params == CpuParams(*documented, **conv2d)
    assert params == CpuParams.for_registers(expected[2], vector_bytes=expected[1])


def test_schedule_params_default_to_avx2():
    """The defaults (what tiling functions use without a target) are AVX2's derivation."""
    assert CpuParams() == CpuParams.for_registers(16) == CpuParams(*AVX2_PARAMS)
    # kept until measured on AVX-512, except the GEMMs' shares of the register file and
    # AVX-512's one-vector conv2d tiles
    assert CpuParams.for_registers(32) == CpuParams(gemm_rows=6, gemm_accumulators=24)
    assert CpuParams.for_registers(32, vector_bytes=64) == CpuParams(
        gemm_rows=6, gemm_accumulators=24, **AVX512_CONV2D)


def test_two_vector_conv2d_tiles_follow_the_fma_issue_width(monkeypatch):
    """AVX-512 cores of two FMAs a cycle (an Intel Xeon) get two-vector direct-conv2d tiles of
    14 accumulators; one (Zen 4, and any AVX-512 target that is not the host: its default)
    keeps 10; other ISAs ignore the width. The host's width is measured
    (``$TVMPRIMS_FMA_ISSUE`` sets it)."""
    assert CpuParams.for_registers(32, vector_bytes=64, fma_issue=2).conv2d_registers == 14
    assert CpuParams.for_registers(32, vector_bytes=64, fma_issue=1).conv2d_registers == 10
    assert CpuParams.for_registers(16, fma_issue=2).conv2d_registers == 10
    assert CpuParams.for_registers(32, vector_bytes=16, fma_issue=2).conv2d_registers == 10
    assert cpu_params(cpu_target("znver4")).conv2d_registers == 10
    host = cpu_model(resolve_target("llvm"))
    assert host.host and not cpu_model(cpu_target("znver3")).host
    for issue in (1, 2):
        monkeypatch.setenv("TVMPRIMS_FMA_ISSUE", str(issue))
        assert host.fma_issue == issue
        expected = 14 if host.isa == "avx512" and issue == 2 else 10
        assert cpu_params(resolve_target("llvm")).conv2d_registers == expected


def test_targets_other_than_the_host_get_the_default_caches():
    """Caches are not in LLVM's target: a cross-compile gets DEFAULT_CACHES (Zen 4's), whose
    parameters are the documented ones; the host's CPU gets the host's caches."""
    assert cpu_model(cpu_target("znver3")).caches == DEFAULT_CACHES
    assert CpuParams() == CpuParams.for_registers(16, DEFAULT_CACHES)
    host = cpu_model(resolve_target("llvm"))
    assert host.caches == host_caches()
    assert 4096 <= host.caches.l1d_bytes <= host.caches.l2_bytes


def test_cache_sized_parameters_follow_the_caches():
    """An L1d of 48 KiB and an L2 of 2 MiB (an Intel Xeon's) against Zen 4's 32 KiB and 1 MiB:
    K blocks of 192 rows, whole B and wide blocks up to 1 MiB, column-outer tiles for A up to
    128 Ki elements."""
    zen4 = CpuParams.for_registers(32, CpuCaches(32 * 1024, 1024 * 1024))
    xeon = CpuParams.for_registers(32, CpuCaches(48 * 1024, 2048 * 1024))
    assert (zen4.gemm_k_block, zen4.gemm_in_l2_bytes, zen4.gemm_wide_block_bytes,
            zen4.gemm_columns_outer_a_elements) == (128, 512 * 1024, 512 * 1024, 64 * 1024)
    assert (xeon.gemm_k_block, xeon.gemm_in_l2_bytes, xeon.gemm_wide_block_bytes,
            xeon.gemm_columns_outer_a_elements) == (192, 1024 * 1024, 1024 * 1024, 128 * 1024)


def test_sysfs_cache_sizes_are_parsed(tmp_path):
    for index, (level, kind, size) in enumerate([(1, "Data", "48K"), (1, "Instruction", "64K"),
                                                 (2, "Unified", "2048K"), (3, "Unified", "1M")]):
        folder = tmp_path / f"index{index}"
        folder.mkdir()
        for name, value in (("level", level), ("type", kind), ("size", size)):
            (folder / name).write_text(f"{value}\n")
    (tmp_path / "index9").mkdir()  # unreadable entries are skipped
    assert _sysfs_caches(tmp_path) == {(1, "Data"): 48 * 1024, (1, "Instruction"): 64 * 1024,
                                       (2, "Unified"): 2 * 1024 ** 2, (3, "Unified"): 1024 ** 2}


# --- GPU model -----------------------------------------------------------------------------------

def test_gpu_model_of_sm_90():
    """sm_90 (H100, H200): 132 multiprocessors, CUDA's limits (TVM's target carries no shared
    memory size, so the 48 KB static limit); no GPU needed."""
    model = gpu_model(Target({"kind": "cuda", "arch": "sm_90"}))
    assert model == GpuModel("sm_90", 132, 1024, 48 * 1024, 32) == DEFAULT_GPU
    assert (model.min_blocks, model.shared_budget) == (132, 32 * 1024)
    # what the CUDA tiling assumed as literals before the model
    assert (gpu_tiling.GPU_MIN_BLOCKS, gpu_tiling.SHARED_BUDGET, gpu_tiling.MAX_THREADS) == (
        132, 32 * 1024, 1024)


def test_gpu_model_reads_the_target_attributes():
    target = Target({"kind": "cuda", "arch": "sm_80", "max_num_threads": 512,
                     "thread_warp_size": 32, "max_shared_memory_per_block": 96 * 1024})
    model = gpu_model(target)
    assert model == GpuModel("sm_80", DEFAULT_SM_COUNT, 512, 96 * 1024, 32)
    assert model.shared_budget == 64 * 1024
    tagged = gpu_model(Target("nvidia/nvidia-h100"))  # a tag: sm_90a, its own limits
    assert (tagged.arch, tagged.sm_count, tagged.max_threads_per_block,
            tagged.max_shared_memory_per_block) == ("sm_90a", 132, 1024, 49152)


def test_gpu_model_follows_into_the_cuda_tiling():
    """A GPU with fewer multiprocessors gets fewer, larger blocks; less shared memory, smaller
    chunks."""
    from tvmprims.schedules.cuda import convolve, matmul
    from tvmprims.schedules.gpu_tiling import block_count
    small = GpuModel("sm_test", 8, 1024, 12 * 1024, 32)
    fewer = block_count((256, 256), matmul.tile_sizes(256, 256, 256, gpu=small)[:2])
    assert fewer < block_count((256, 256), matmul.tile_sizes(256, 256, 256)[:2])
    # a prime filter: whole in 32 KB of shared memory, one tap per chunk in 8 KB
    assert convolve.tile_sizes(11023, 1021, 4)[1] == 1021
    assert convolve.tile_sizes(11023, 1021, 4, gpu=small)[1] < 1021


def test_llvm_target_has_no_gpu_model():
    with pytest.raises(ValueError, match="needs a 'cuda' target"):
        gpu_model(Target({"kind": "llvm"}))


# --- Generated code on every CPU family ----------------------------------------------------------

#: One small workload per CPU schedule (float32). matmul_log is left out: its products are
#: libm calls and table lookups, not FMAs (its structure is tested in test_matmul_log.py).
OPS = [
    ("matmul", [(20, 30), (30, 40)], {}),
    ("dense", [(7, 50), (50, 33), (33,)], {}),
    ("conv2d", [(1, 8, 13, 13), (16, 8, 3, 3), (16,)], {"padding": 1}),
    ("conv2d_im2col", [(1, 8, 13, 13), (16, 8, 3, 3), (16,)], {"padding": 1}),
    ("conv2d_winograd", [(1, 16, 14, 14), (32, 16, 3, 3)], {"padding": 1}),
    ("conv2d_fft", [(1, 2, 9, 9), (3, 2, 3, 3)], {}),
    ("depthwise_conv2d", [(1, 32, 28, 28), (32, 1, 3, 3)], {"padding": 1}),
    ("convolve", [(1000,), (33,)], {}),
    ("winograd_weight", [(64, 32, 3, 3)], {}),
]
CODEGEN_TARGETS = ["avx2-znver3", "avx512-znver4", "avx512-skylake", "neon-aarch64"]


def fma_registers(asm):
    """Register classes of the float32 vector FMAs in x86 (``zmm``/``ymm``/``xmm``) or
    AArch64 (``v.4s``: 16 bytes) assembly."""
    x86 = set(re.findall(r"\bv(?:fmadd|fnmadd|fmsub|fnmsub)\w*ps\s+[^\n]*?%(zmm|ymm|xmm)", asm))
    arm = {"xmm" for _ in re.findall(r"\bfml[as]\s+v\d+\.4s", asm)[:1]}  # 16 bytes, as xmm
    return x86 | arm


@pytest.mark.parametrize("name", CODEGEN_TARGETS)
@pytest.mark.parametrize("op,shapes,params", OPS, ids=[op for op, _, _ in OPS])
def test_fmas_use_the_full_vector_width(op, shapes, params, name):
    """Every CPU schedule's FMAs run on the target's widest vector registers: zmm (64 bytes)
    on AVX-512, ymm (32) on AVX2, 16-byte NEON registers on AArch64, and never wider."""
    target, vector_bytes = CPU_TARGETS[name]
    asm = compile_for(target, op, *shapes, **params).assembly()
    widest = REGISTERS[vector_bytes]
    registers = fma_registers(asm)
    assert widest in registers, (op, name, registers)
    wider = [r for b, r in REGISTERS.items() if b > vector_bytes]
    assert not any(re.search(rf"%{r}\d", asm) for r in wider), (op, name)
