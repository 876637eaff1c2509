"""Log-domain matmul (``algo="log"`` and ``"log-approx"``, operator ``matmul_log``) against
float64 numpy: exact products close to ``A @ B``, zeros handled exactly, the approximate
method within its error bound ``(2^(2^-bits) - 1) * |A| @ |B|`` and improving with bits,
parameter errors, CPU schedule structure, CUDA source/nvcc/emulation, GPU runs."""

import re

import numpy as np
import pytest

import tvmprims
from tvmprims.ops import matmul_log
from tvmprims.schedules.common import vector_lanes
from tvmprims.testing import assert_close, matmul_ref
from cpu_targets import compile_for, target_params
from cuda_support import emulate, launch_dims, shared_arrays

SHAPES = [(1, 1, 1), (1, 7, 1), (7, 1, 5), (31, 37, 29), (127, 64, 131), (64, 65, 16),
          (2, 300, 3)]


def _operands(rng, m, k, n, dtype="float32"):
    return (rng.standard_normal((m, k)).astype(dtype),
            rng.standard_normal((k, n)).astype(dtype))


def _bound_check(c, a, b, bits):
    """|C - A @ B| <= (2^(2^-bits) - 1) |A| @ |B| + float rounding; returns the mean
    relative error sum|C - A @ B| / sum |A| @ |B|."""
    exact, magnitude = matmul_ref(a, b), np.abs(a.astype(np.float64)) @ np.abs(b)
    eps = np.finfo(c.dtype).eps
    rounding = 8 * eps * np.sqrt(a.shape[1]) * magnitude + np.finfo(c.dtype).tiny
    err = np.abs(c - exact)
    limit = matmul_log.error_bound(bits) * magnitude + rounding
    worst = np.unravel_index(np.argmax(err - limit), err.shape)
    assert np.all(err <= limit), (f"bits={bits}: error {err[worst]:.4g} over the bound "
                                  f"{limit[worst]:.4g} at {worst}")
    return float(err.sum() / max(magnitude.sum(), 1e-300))


# --- Exact ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("m,k,n", SHAPES)
def test_exact_float32(rng, m, k, n):
    a, b = _operands(rng, m, k, n)
    c = tvmprims.matmul(a, b, algo="log")
    assert c.dtype == np.float32 and c.shape == (m, n)
    assert_close(c, matmul_ref(a, b), "float32", k)


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (31, 37, 29), (127, 64, 131)])
def test_exact_float64(rng, m, k, n):
    a, b = _operands(rng, m, k, n, "float64")
    assert_close(tvmprims.matmul(a, b, algo="log"), matmul_ref(a, b), "float64", k)


def test_exact_negative_and_wide_range(rng):
    """All-negative operands, and magnitudes from 1e-20 to 1e15 (logs from -66 to +50)."""
    a = -np.abs(rng.standard_normal((17, 23))).astype("float32")
    b = -np.abs(rng.standard_normal((23, 19))).astype("float32")
    assert_close(tvmprims.matmul(a, b, algo="log"), matmul_ref(a, b), "float32", 23)
    a = (rng.standard_normal((9, 11)) * 10.0 ** rng.integers(-20, 15, (9, 11))).astype("float64")
    b = rng.standard_normal((11, 5)).astype("float64")
    c, ref = tvmprims.matmul(a, b, algo="log"), matmul_ref(a, b)
    np.testing.assert_allclose(c, ref, rtol=1e-12, atol=1e-12 * (np.abs(a) @ np.abs(b)).max())


# --- Zeros ---------------------------------------------------------------------------------------

def _with_zeros(rng, m, k, n, dtype):
    a, b = _operands(rng, m, k, n, dtype)
    a[2] = 0           # a zero row of A: a zero row of C
    b[:, 3] = 0        # a zero column of B: a zero column of C
    a[rng.random(a.shape) < 0.3] = 0  # scattered zeros, also -0.0
    b[rng.random(b.shape) < 0.1] = -0.0
    return a, b


@pytest.mark.parametrize("algo,bits", [("log", None), ("log-approx", 0), ("log-approx", 4)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_zeros_are_exact(rng, algo, bits, dtype):
    a, b = _with_zeros(rng, 13, 29, 17, dtype)
    c = tvmprims.matmul(a, b, algo=algo, log_bits=bits)
    assert np.all(np.isfinite(c))
    assert np.all(c[2] == 0) and np.all(c[:, 3] == 0)
    if bits is None:
        assert_close(c, matmul_ref(a, b), dtype, 29)
    else:
        _bound_check(c, a, b, bits)
    zeros = np.zeros((5, 8), dtype)
    assert np.array_equal(tvmprims.matmul(zeros, np.zeros((8, 3), dtype), algo=algo,
                                          log_bits=bits), np.zeros((5, 3), dtype))


def test_zero_times_huge_is_zero(rng):
    """A zero operand against the largest floats: no inf * 0 = NaN."""
    big = np.finfo(np.float32).max
    a = np.array([[0.0, 1.0]], "float32")
    b = np.array([[big, big], [2.0, -3.0]], "float32")
    for algo, bits in [("log", None), ("log-approx", 0), ("log-approx", 8)]:
        c = tvmprims.matmul(a, b, algo=algo, log_bits=bits)
        assert np.all(np.isfinite(c)), (algo, bits, c)
        np.testing.assert_allclose(c, [[2.0, -3.0]], rtol=1e-6 if bits is None else matmul_log.error_bound(bits))


# --- Approximate ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", pytest.param("float64", marks=pytest.mark.slow)])
def test_approx_within_bound_and_improving(rng, dtype):
    a, b = _operands(rng, 37, 200, 45, dtype)
    a[0, :] *= -1e-3
    errors = [_bound_check(tvmprims.matmul(a, b, algo="log-approx", log_bits=bits), a, b, bits)
              for bits in range(7)]
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.002 and errors[0] > 0.01


@pytest.mark.parametrize("m,k,n,bits", [(1, 1, 1, 3), (7, 1, 5, 8), (127, 64, 131, 2),
                                        (64, 65, 16, 5), (2, 300, 3, 1)])
def test_approx_shapes(rng, m, k, n, bits):
    a, b = _operands(rng, m, k, n)
    _bound_check(tvmprims.matmul(a, b, algo="log-approx", log_bits=bits), a, b, bits)


def test_approx_exact_on_powers_of_two(rng):
    """Powers of two have integer logs: every bits value reproduces their products exactly."""
    a = (rng.choice([-1, 1], (6, 9)) * 2.0 ** rng.integers(-8, 8, (6, 9))).astype("float32")
    b = (rng.choice([-1, 1], (9, 4)) * 2.0 ** rng.integers(-8, 8, (9, 4))).astype("float32")
    for bits in (0, 3, 8):
        np.testing.assert_array_equal(tvmprims.matmul(a, b, algo="log-approx", log_bits=bits),
                                      (a.astype(np.float64) @ b).astype("float32"))


def test_error_bound_values():
    assert matmul_log.error_bound(0) == 1.0
    assert abs(matmul_log.error_bound(3) - 0.0905077) < 1e-6
    for bits in range(9):  # about ln2 * 2^-bits
        assert np.log(2) * 2.0 ** -bits <= matmul_log.error_bound(bits) < 1.45 * 2.0 ** -bits


@pytest.mark.parametrize("bits,error,message", [
    (-1, ValueError, "log_bits must be from 0 to 8"),
    (9, ValueError, "log_bits must be from 0 to 8"),
    (2.5, TypeError, "log_bits must be an int from 0 to 8"),
    ("3", TypeError, "log_bits must be an int from 0 to 8"),
    (True, TypeError, "log_bits must be an int from 0 to 8"),
])
def test_bad_bits_rejected(bits, error, message):
    a = np.ones((2, 3), "float32")
    with pytest.raises(error, match=message):
        tvmprims.matmul(a, a.T, algo="log-approx", log_bits=bits)
    with pytest.raises(error, match=message):
        matmul_log.workload((2, 3), (3, 2), bits=bits)


def test_shape_errors():
    with pytest.raises(ValueError, match="matmul_log inner dimensions differ"):
        matmul_log.workload((2, 3), (4, 2))
    with pytest.raises(ValueError, match="matmul_log expects 2-D operands"):
        matmul_log.workload((2, 3, 1), (3, 2))


def test_workload_params():
    exact, approx = matmul_log.workload((4, 5), (5, 6)), matmul_log.workload((4, 5), (5, 6),
                                                                              bits=np.int64(3))
    assert exact["bits"] is None and approx["bits"] == 3 and exact != approx
    assert exact.output_shape == (4, 6) and exact.flops == 2 * 4 * 5 * 6


#: B's panels for N = 40 per vector ISA: (panels, width); the width is two float32 vectors.
PANELS = {16: (5, 8), 32: (3, 16), 64: (2, 32)}


@pytest.mark.parametrize("target,vector_bytes", target_params())
def test_cpu_schedule_structure(target, vector_bytes):
    """B's sign and log stages write the GEMM panels directly (zero-padded to whole panels
    where 40 is not a multiple of their width); the bins are combined per tile. Built for
    each CPU family."""
    script = compile_for(target, "matmul_log", (20, 30), (30, 40), bits=3).script()
    count, width = PANELS[vector_bytes]
    assert width == 2 * vector_lanes(target, "float32")
    for stage in ("B_sign", "B_log"):
        assert re.search(rf"{stage}(_pad)? = T\.sblock_alloc_buffer\(\({count}, 30, {width}\)",
                         script), stage
    assert "T.parallel" in script and "T.vectorized" in script
    loops = re.findall(r"for (\w+) in T\.parallel", script)
    # 4 conversion stages and 1 tile loop holding the bins and combine; with two panels or
    # more per core (2 here) B's 2 stages are computed per panel inside the tile loop
    assert len(loops) == (3 if count >= 2 * 2 else 5)


# --- CUDA ---------------------------------------------------------------------------------------

CUDA_CASES = [
    pytest.param((256, 256), (256, 256), None, "float32", id="exact-256"),
    pytest.param((31, 17), (17, 29), None, "float64", id="exact-primes-f64"),
    pytest.param((1, 1), (1, 1), None, "float32", id="exact-1x1x1"),
    pytest.param((127, 13), (13, 131), 3, "float32", id="approx3-127x13x131"),
    pytest.param((64, 64), (64, 64), 8, "float64", id="approx8-f64"),
    pytest.param((1, 1), (1, 1), 0, "float32", id="approx0-1x1x1"),
]


def _cuda_kernel(a_shape, b_shape, bits, dtype):
    return tvmprims.build("matmul_log", a_shape, b_shape, dtype=dtype, bits=bits, target="cuda",
                          schedule="hand")


@pytest.mark.parametrize("a_shape,b_shape,bits,dtype", CUDA_CASES)
def test_cuda_source(a_shape, b_shape, bits, dtype):
    """Every stage is in a kernel (the exact product: one kernel, conversions inside the
    shared-memory fetch; approximate: bins, table, combination), register accumulators."""
    kernel = _cuda_kernel(a_shape, b_shape, bits, dtype)
    src = kernel.source()
    names = set(re.findall(r'extern "C" __global__ void (?:__launch_bounds__\(\d+\) )?(\w+)\(',
                           src))
    assert len(names) == (1 if bits is None else 3), names
    shared = shared_arrays(src)
    for operand in ("A_sign", "A_log", "B_sign", "B_log"):
        assert any(re.fullmatch(rf"{operand}(_pad)?_shared_ptr", s) for s in shared), shared
    ctype = "double" if dtype == "float64" else "float"
    local = re.findall(rf"\b{ctype}\s+(\w+_local_ptr)\[(\d+)\]", src)
    assert local and all(int(n) <= 16 for _, n in local), local
    if dtype == "float32":
        assert "double" not in src


@pytest.mark.parametrize("case", [0, 1, 3, 4])
def test_nvcc_compiles_to_fatbin(case, nvcc_fatbin):
    nvcc_fatbin(_cuda_kernel(*CUDA_CASES[case].values))


@pytest.mark.parametrize("a_shape,b_shape,dtype", [((37, 19), (19, 41), "float32"),
                                                   ((31, 17), (17, 29), "float64"),
                                                   ((1, 1), (1, 1), "float32")])
def test_cuda_exact_emulated_on_cpu(a_shape, b_shape, dtype, rng, tmp_path):
    """The exact kernel's generated CUDA run on the CPU (tests/cuda_support.py),
    with zero rows and scattered zeros."""
    kernel = _cuda_kernel(a_shape, b_shape, None, dtype)
    a, b = (rng.standard_normal(s).astype(dtype) for s in (a_shape, b_shape))
    a[0] = 0
    b[rng.random(b.shape) < 0.2] = 0
    launch_dims(kernel)
    c = emulate(kernel, [a, b], tmp_path)
    assert np.all(c[0] == 0)
    assert_close(c, matmul_ref(a, b), dtype, a_shape[1])


@pytest.mark.cuda
@pytest.mark.parametrize("a_shape,b_shape,bits,dtype", CUDA_CASES)
def test_on_gpu(a_shape, b_shape, bits, dtype, rng):
    kernel = _cuda_kernel(a_shape, b_shape, bits, dtype)
    a, b = _with_zeros(rng, *a_shape, b_shape[1], dtype) if min(a_shape + b_shape) > 3 else \
        _operands(rng, *a_shape, b_shape[1], dtype)
    c = kernel(a, b)
    if bits is None:
        assert_close(c, matmul_ref(a, b), dtype, a_shape[1])
    else:
        _bound_check(c, a, b, bits)
