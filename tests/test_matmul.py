"""matmul against float64 numpy over awkward and large shapes."""

import itertools

import numpy as np
import pytest

import tvmprims
from tvmprims.schedules.gemm_tiling import (busiest_core_work, gemv_parallel, gemm_blocks,
                                            gemv_column_unroll, gemv_k_parts,
                                            gemv_tiling, k_block, matmul_path, uses_gemv)
from tvmprims.schedules.hardware import (CpuCaches, CpuParams, cpu_model, cpu_params,
                                         cpu_params_override)
from tvmprims.target import resolve_target
from tvmprims.testing import assert_close, matmul_ref, workspace_allocations
from cpu_targets import CPU_TARGETS, compile_for, cpu_target, target_params

SMALL = (1, 7, 64, 127)
LARGE = [(2048, 2048, 2048), (1, 2048, 2048), (2048, 1, 3), (1021, 1031, 1033), (3, 2048, 1),
         (256, 17, 512)]


def _check(rng, m, k, n, dtype, schedule="hand"):
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    assert_close(tvmprims.matmul(a, b, schedule=schedule), matmul_ref(a, b), dtype, k)


@pytest.mark.parametrize("m,k,n", list(itertools.product(SMALL, repeat=3)))
def test_small_and_prime_shapes(rng, m, k, n):
    _check(rng, m, k, n, "float32")


@pytest.mark.parametrize("m,k,n", LARGE)
def test_large_shapes(rng, m, k, n):
    _check(rng, m, k, n, "float32")


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 127, 64), (127, 64, 7), (300, 301, 302)])
def test_float64(rng, m, k, n):
    _check(rng, m, k, n, "float64")


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 13, 5), (64, 64, 64)])
def test_unscheduled_baseline(rng, m, k, n):
    _check(rng, m, k, n, "float32", schedule="none")


def test_matches_numpy_output_shape_and_dtype(rng):
    a = rng.standard_normal((5, 3)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    c = tvmprims.matmul(a, b)
    assert c.shape == np.matmul(a, b).shape and c.dtype == np.float32


@pytest.mark.parametrize("target,vector_bytes", target_params())
@pytest.mark.parametrize("k", [64, 1100])  # B in cache (all packed first), or not (blocked)
def test_only_packed_b_is_a_workspace(target, vector_bytes, k):
    # Only the packed B panels are a workspace: the register tile of the "gemm" path (4 x 16
    # floats on AVX2, 6 x 32 on AVX-512) is a stack array (CPU_REGISTER_SCOPE), and the
    # blocked path accumulates in C itself (M and N are whole tiles here: 120 rows are
    # 30 x 4 and 20 x 6 on AVX2, 20 x 6 and 10 x 12 on 32-register ISAs), on every CPU family.
    kernel = compile_for(target, "matmul", (120, k), (k, 1024))
    assert workspace_allocations(kernel) == 1


# --- The two paths: few rows (GEMV, B read in place) and the cache-blocked GEMM ------------------

#: Awkward shapes per path, float32 and float64: M = 1, primes, N not a multiple of the
#: vector or the tile, N below one vector, K = 1, K longer than several K blocks.
GEMV_SHAPES = [(1, 1, 1), (1, 1000, 1001), (1, 4096, 4095), (3, 17, 7), (8, 9216, 17),
               (5, 1, 33), (2, 64, 1000)]
GEMM_SHAPES = [(9, 1, 3), (17, 300, 401), (61, 131, 64), (130, 3001, 33), (1021, 3, 7)]
#: Shapes whose float32 B is larger than half of L2 with K past one K block, or larger than
#: ``gemm_whole_b_bytes`` (the blocked path).
BLOCKED_SHAPES = [(64, 257, 4095), (17, 2000, 1001), (130, 4099, 300)]
#: (M, K, N) whose B fits half of L2 but whose K is long for M (``long_k_blocked``: blocked).
LONG_K_SHAPES = [(67, 1031, 97), (300, 777, 131)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m,k,n", GEMV_SHAPES + GEMM_SHAPES + BLOCKED_SHAPES + LONG_K_SHAPES)
def test_every_path_on_awkward_shapes(rng, m, k, n, dtype):
    _check(rng, m, k, n, dtype)


def _script(m, k, n, target="avx2-znver3", dtype="float32"):
    return compile_for(CPU_TARGETS[target][0], "matmul", (m, k), (k, n), dtype=dtype)


@pytest.mark.parametrize("cores", [1, 2])
@pytest.mark.parametrize("m,k,n", [(1, 4096, 4095), (8, 9216, 17), (3, 17, 7), (4, 1001, 64)])
def test_few_rows_read_b_in_place(m, k, n, cores):
    """The GEMV path copies nothing of A or B: no padded or packed operand. Its only buffer
    is the per-core partial results when K is split (several cores, K a multiple of them,
    at least one vector of columns); with one core or no split, no workspace at all."""
    target = cpu_target("znver3", cores=cores)
    assert uses_gemv(m, cpu_params(target))
    kernel = compile_for(target, "matmul", (m, k), (k, n))
    script = kernel.script()
    assert "_pad" not in script
    split = gemv_k_parts(n, k, 8, cores) > 1
    assert split == (cores == 2 and k % 2 == 0 and n >= 8)
    allocs = [line for line in script.splitlines() if "sblock_alloc_buffer" in line]
    assert len(allocs) == split and all("_rf" in line for line in allocs)
    assert workspace_allocations(kernel) == split


@pytest.mark.parametrize("m,k,n", [(8, 4096, 1000), (3, 4096, 33)])
def test_few_rows_split_k_structure(m, k, n):
    """On two cores the GEMV path splits K in two (``rfactor``): a parallel loop of extent 2
    over the parts, partial results whose rows start on a cache line (``storage_align``:
    N = 1000 floats is padded to 1008 per row), and a vectorised sum of the parts."""
    k_parts, *_ = gemv_tiling(m, n, k, 8, 4, 2)
    assert k_parts == 2
    script = _script(m, k, n).script()
    assert "T.parallel(2)" in script and "buffer_dim_align" in script
    assert script.count("T.vectorized(8)") >= 3  # partial sums, their zeroing, the sum


@pytest.mark.parametrize("m,k,n", [(1, 64, 1000), (1, 64, 1024), (3, 64, 33), (2, 7, 5)])
def test_tiny_few_rows_run_on_one_thread(rng, m, k, n):
    """Under gemv_parallel's bound the GEMV path has no parallel loop (starting the thread
    pool costs more than the product), and still matches float64 numpy."""
    assert not gemv_parallel(m, n, k, 4, cpu_params(cpu_target("znver3")))  # _script's
    assert "T.parallel" not in _script(m, k, n).script()
    a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
    assert_close(tvmprims.matmul(a, b), matmul_ref(a, b), "float32", k)


def test_gemv_parallel_bound_is_half_of_l2():
    """Several cores from half of L2 in operations or in bytes of B: Zen 4's 1 MiB L2 (the
    earlier fixed 2^18 operations is Zen 3's), an Intel Xeon's 2 MiB."""
    zen4 = CpuParams.for_registers(32, CpuCaches(32 * 1024, 1024 * 1024))
    xeon = CpuParams.for_registers(32, CpuCaches(48 * 1024, 2048 * 1024))
    assert gemv_parallel(4, 1024, 64, 4, zen4) and not gemv_parallel(4, 1024, 64, 4, xeon)
    assert gemv_parallel(1, 2048, 64, 4, zen4) and not gemv_parallel(1, 2048, 64, 4, xeon)
    assert gemv_parallel(1, 1000, 512, 4, xeon)       # B of 2 MB
    assert gemv_parallel(8, 1000, 128, 4, xeon)       # 2 M operations
    assert not gemv_parallel(1, 1000, 64, 4, zen4)
    zen3 = CpuParams.for_registers(16, CpuCaches(32 * 1024, 512 * 1024))
    assert gemv_parallel(2, 1000, 64, 8, zen3)        # B of 512,000 bytes


def test_gemv_k_parts_rule():
    assert gemv_k_parts(1000, 4096, 16, 2) == 2 and gemv_k_parts(4096, 9216, 8, 16) == 16
    assert gemv_k_parts(1000, 4096, 16, 1) == 1      # one core: nothing to split for
    assert gemv_k_parts(1000, 4095, 16, 2) == 1      # K not a multiple of the cores
    assert gemv_k_parts(7, 4096, 8, 2) == 1          # no whole vector: the scalar tail only
    assert gemv_k_parts(1000, 4096, 16, 2, CpuParams(gemv_split_k=False)) == 1
    # Without the split the cores share the column chunks: a multiple of the cores.
    k_parts, chunks, _, _ = gemv_tiling(8, 1000, 4095, 16, 4, 2)
    assert k_parts == 1 and chunks % 2 == 0


def test_gemv_column_unroll_keeps_eight_sums_in_flight():
    """Vectors of columns a few-rows step multiplies: fma_chains (8) sums at least, two
    vectors at least, within two thirds of the GEMM accumulators; a divisor of the chunk."""
    avx512, avx2 = CpuParams.for_registers(32, vector_bytes=64), CpuParams()
    assert [gemv_column_unroll(m, 72, avx512) for m in range(1, 9)] == [8, 4, 3, 2, 2, 2, 2, 2]
    assert [gemv_column_unroll(m, 72, avx2) for m in range(1, 9)] == [8, 4, 2, 2, 1, 1, 1, 1]
    assert gemv_column_unroll(2, 62, avx512) == 2     # 62 vectors (N = 1000): a divisor
    assert gemv_column_unroll(4, 61, avx512) == 1     # a prime count: one at a time


@pytest.mark.parametrize("m,k,n", [(2, 64, 1000), (3, 100, 1152), (4, 64, 1001), (8, 300, 257),
                                   (7, 33, 2048), (6, 5, 96)])
def test_few_rows_with_several_column_vectors_a_step(rng, m, k, n):
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    assert_close(tvmprims.matmul(a, b), matmul_ref(a, b), "float32", k)
    assert_close(tvmprims.matmul(a.astype(np.float64), b.astype(np.float64)), matmul_ref(a, b),
                 "float64", k)


@pytest.mark.parametrize("m,k,n", [(8, 4096, 1000), (1, 1024, 1000), (3, 1000, 1001),
                                   (2, 4095, 1000), (8, 9216, 17), (5, 2, 33)])
def test_few_rows_equal_on_one_and_two_threads(rng, tvm_threads, m, k, n):
    """The few-rows path on one and two threads (split K, or column chunks for odd K) against
    float64, and the two results alike: each part of the parallel loop computes the same sums
    whichever thread runs it."""
    assert uses_gemv(m)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    results = []
    for threads in (1, 2):
        tvm_threads(threads)
        results.append(tvmprims.matmul(a, b, schedule="hand"))
        assert_close(results[-1], matmul_ref(a, b), "float32", k)
    np.testing.assert_array_equal(results[0], results[1])


def test_paths_are_taken_where_intended():
    assert [matmul_path(*s, 4) for s in GEMV_SHAPES] == ["gemv"] * len(GEMV_SHAPES)
    assert [matmul_path(*s, 4) for s in GEMM_SHAPES] == ["gemm"] * len(GEMM_SHAPES)
    assert [matmul_path(*s, 4) for s in BLOCKED_SHAPES] == ["blocked"] * len(BLOCKED_SHAPES)
    assert matmul_path(128, 9216, 4096, 4) == "blocked" and matmul_path(1, 4096, 4096, 4) == "gemv"


def test_whole_b_beyond_one_k_block_only_within_half_of_l2():
    """All of B packed first only while it stays in L2 (half of it), or up to
    ``gemm_whole_b_bytes`` when K is within one K block; Zen 4's caches and an Intel Xeon's
    (48 KiB L1d, 2 MiB L2: K blocks of 192 rows, 1 MiB of B in L2)."""
    zen4 = CpuParams.for_registers(32, CpuCaches(32 * 1024, 1024 * 1024))
    xeon = CpuParams.for_registers(32, CpuCaches(48 * 1024, 2048 * 1024))
    assert matmul_path(1024, 4096, 64, 4, zen4) == "gemm"          # 1 MiB, K = 64
    assert matmul_path(512, 512, 512, 4, zen4) == "blocked"        # 1 MiB, K = 512
    assert matmul_path(1024, 512, 512, 4, xeon) == "gemm"         # 1 MiB, many rows
    assert matmul_path(1000, 1000, 1000, 4, xeon) == "blocked"     # 4 MiB
    assert matmul_path(64, 4096, 192, 4, xeon) == "gemm"           # 3 MiB in one K block
    assert matmul_path(64, 4096, 193, 4, xeon) == "blocked"


@pytest.mark.parametrize("m,k,n,path", [
    (256, 1024, 196, "blocked"),   # a 1x1 layer's GEMM: K over two K blocks of 192
    (64, 4096, 64, "blocked"),
    (512, 512, 512, "blocked"),
    (63, 4096, 64, "gemm"),        # fewer rows than LONG_K_BLOCKED_ROWS
    (513, 1024, 196, "gemm"),      # more
    (256, 384, 600, "gemm"),       # K of two K blocks
    (256, 385, 600, "blocked"),
])
def test_long_k_blocked_though_b_fits_l2(m, k, n, path):
    """A GEMM whose B stays in L2 is still K-blocked when K spans over two K blocks and M
    is within LONG_K_BLOCKED_ROWS (an Intel Xeon's caches: K blocks of 192, 1 MiB of B)."""
    from tvmprims.schedules.gemm_tiling import long_k_blocked
    xeon = CpuParams.for_registers(32, CpuCaches(48 * 1024, 2048 * 1024))
    assert k * n * 4 <= xeon.gemm_in_l2_bytes
    assert matmul_path(m, n, k, 4, xeon) == path
    assert long_k_blocked(m, k, xeon) == (path == "blocked")
    host = cpu_params(resolve_target(None))
    assert all(matmul_path(a, c, b, 4, host) == "blocked" for a, b, c in LONG_K_SHAPES)


@pytest.mark.parametrize("k,target,kc", [(1024, 128, 128), (1024, 192, 256), (1000, 192, 200),
                                         (576, 128, 144), (9216, 192, 192), (64, 128, 64),
                                         (5003, 128, 128), (4099, 192, 188), (3, 128, 4)])
def test_k_blocks_divide_k_where_they_can(k, target, kc):
    """The K block nearest ``gemm_k_block`` that divides K (from half to twice it), else K
    cut evenly and padded; always a multiple of the unroll."""
    assert k_block(k, 4, target) == kc and kc % 4 == 0


@pytest.mark.parametrize("m,k,n", [(1008, 1000, 1024), (97, 4099, 263), (130, 577, 1001)])
def test_blocked_gemm_with_padded_k_blocks(m, k, n, rng):
    """K not a whole number of K blocks is padded with zero rows (A copied, B packed with
    them): exact on the Xeon's and Zen 4's parameters, float32 and float64."""
    for caches in (CpuCaches(48 * 1024, 2048 * 1024), CpuCaches(32 * 1024, 1024 * 1024)):
        params = CpuParams.for_registers(32, caches)
        for dtype in ("float32", "float64"):
            a = rng.standard_normal((m, k)).astype(dtype)
            b = rng.standard_normal((k, n)).astype(dtype)
            assert matmul_path(m, n, k, a.itemsize, params) == "blocked"
            tvmprims.clear_cache()
            with cpu_params_override(params):
                kernel = tvmprims.build("matmul", a.shape, b.shape, dtype=dtype)
            assert_close(kernel(a, b), matmul_ref(a, b), dtype, k)
    tvmprims.clear_cache()


def _pack_lines(script):
    return [line for line in script.splitlines() if "B_global[" in line or "B_pad[" in line]


@pytest.mark.parametrize("m,k,n", [(9, 1, 3), (1000, 128, 2048), (256, 64, 1000)])
def test_b_in_cache_is_packed_whole_first(m, k, n):
    """Row tiles outermost with a B of more than half of L2 (``gemm_in_l2_bytes``; here 1 MiB)
    or too few row tiles to share, or column panels outermost with more than
    PANEL_PACKING_MAX_ROWS rows: B packed before the tiles run."""
    script = _script(m, k, n).script()
    assert script.index(_pack_lines(script)[0]) < script.rindex("T.parallel")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("m,k,n", [(1000, 64, 256), (96, 37, 91), (240, 1, 45)])
def test_small_b_is_packed_by_each_core(rng, tvm_threads, threads, m, k, n):
    """Row tiles outermost, one share of them per core and a small B: each core packs all of
    B inside the GEMM's parallel loop (extent: the cores), before its row tiles."""
    script = _script(m, k, n).script()
    gemm = script.index('T.sblock("matmul_update")')
    loop = script.rindex("T.parallel", 0, gemm)
    assert script.startswith("T.parallel(2)", loop)
    assert loop < script.index(_pack_lines(script)[0]) < gemm
    tvm_threads(threads)
    a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
    kernel = tvmprims.build("matmul", a.shape, b.shape, schedule="hand")
    assert_close(kernel(a, b), matmul_ref(a, b), "float32", k)


@pytest.mark.parametrize("m,k,n", [(48, 64, 1000), (32, 64, 2000)])
def test_b_in_cache_is_packed_per_panel_with_column_panels_outer(m, k, n):
    """Column panels outermost (A small) and few rows: the parallel loop runs over panels,
    and each panel of B is packed inside it right before its row tiles; one parallel loop."""
    script = _script(m, k, n).script()
    assert script.count("T.parallel") == 1
    assert script.index(_pack_lines(script)[0]) > script.index("T.parallel")


@pytest.mark.parametrize("m,k,n", BLOCKED_SHAPES[:2] + [(64, 4096, 4096)])
def test_large_b_is_packed_per_block(m, k, n):
    """The blocked path packs B in blocks of ``kc`` rows inside the parallel loop (not all of
    B before it), and sweeps K in blocks."""
    assert matmul_path(m, n, k, 4) == "blocked"
    script = _script(m, k, n).script()
    assert "sblock_alloc_buffer" in script
    packs = _pack_lines(script)
    assert packs and script.index(packs[0]) > script.index("T.parallel")
    _, _, _, kc, _, _ = gemm_blocks(m, n, k, 8, 2)
    assert kc <= CpuParams().gemm_k_block + CpuParams().gemm_k_unroll


def test_k_blocks_cut_k_evenly():
    for k in (1, 3, 128, 129, 576, 4096, 9216, 9217):
        _, _, ku, kc, _, _ = gemm_blocks(64, 4096, k, 8, 2)
        blocks = -(-k // kc)
        assert kc % ku == 0 and blocks * kc - k < kc and kc <= k + ku


@pytest.mark.parametrize("cores", [1, 2, 16])
def test_row_blocks_feed_the_cores_when_n_is_narrow(cores):
    *_, nc, row_blocks = gemm_blocks(1024, 16, 64, 8, cores)
    assert row_blocks == cores  # one column block: the rows are split among the cores
    *_, row_blocks = gemm_blocks(1024, 4096, 64, 8, cores)
    assert row_blocks == 1


def test_row_blocks_split_when_column_blocks_do_not_share_evenly(rng):
    """N = 263: nine column blocks of 32 (a prime number of 32-column panels) on two cores
    would leave one core a block more; the rows are split in two as well."""
    *_, nc, row_blocks = gemm_blocks(97, 263, 5000, 16, 2)
    assert (-(-263 // nc)) % 2 == 1 and row_blocks == 2
    *_, row_blocks = gemm_blocks(97, 263, 5000, 16, 1)
    assert row_blocks == 1
    a, b = rng.standard_normal((97, 5000), np.float32), rng.standard_normal((5000, 263), np.float32)
    assert matmul_path(97, 263, 5000, 4, cpu_params(resolve_target(None))) == "blocked"
    assert_close(tvmprims.matmul(a, b), matmul_ref(a, b), "float32", 5000)


@pytest.mark.parametrize("m,n,k,cores,one_panel", [
    (48, 1000, 4096, 2, True),    # 4 row tiles of 12: two per core
    (16, 1000, 4096, 2, True),
    (48, 1000, 4096, 1, False),   # four tiles on one core
    (96, 1000, 4096, 2, False),   # 8 tiles
])
def test_few_row_tiles_take_column_blocks_of_one_panel(m, n, k, cores, one_panel):
    """At most ONE_PANEL_MAX_TILES_PER_CORE row tiles per core: column blocks of one panel,
    which stays in L1 for the few tiles that read it; else about ``gemm_n_block`` columns
    (AVX-512's blocked tile, 12 x 2)."""
    params = CpuParams(gemm_accumulators=24)
    mi, ni, _, _, nc, _ = gemm_blocks(m, n, k, 16, cores, params)
    assert (nc == ni) == one_panel, (mi, ni, nc)


def test_narrow_b_blocks_take_all_columns_at_once(rng):
    """A ``kc`` x N block of B within ``gemm_wide_block_bytes`` (and four row tiles per core):
    one column block, the rows split among the cores, so A is swept once; results exact in
    float32 and float64 on ragged M and N."""
    params = CpuParams(gemm_accumulators=24)  # AVX-512's blocked tile, 12 x 2
    mi, ni, _, kc, nc, row_blocks = gemm_blocks(1024, 257, 9216, 16, 2, params)
    assert nc == -(-257 // ni) * ni and row_blocks == 2
    assert gemm_blocks(1024, 257, 9216, 16, 2, params, itemsize=8)[4] == nc  # 288 KiB
    *_, nc, _ = gemm_blocks(96, 4095, 1024, 16, 2, params)   # a 2 MiB block: 64 columns
    assert nc == 64
    *_, nc, _ = gemm_blocks(24, 257, 9216, 16, 2, params)    # two row tiles: no
    assert nc < 257
    host = cpu_model(resolve_target(None))
    for dtype, (m, k, n) in [("float32", (97, 5003, 263)), ("float64", (101, 3001, 301))]:
        itemsize = np.dtype(dtype).itemsize
        assert matmul_path(m, n, k, itemsize, host.params) == "blocked"
        *_, nc, _ = gemm_blocks(m, n, k, host.lanes(dtype), 2, host.params, itemsize)
        assert nc >= n  # this CPU takes the one-block path on two cores
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        assert_close(tvmprims.matmul(a, b), matmul_ref(a, b), dtype, k)


def test_blocked_tiles_take_fewer_rows_when_the_cores_share_them_more_evenly(rng):
    """The blocked GEMM's tile keeps its most rows (12 on AVX-512) unless fewer, down to two
    thirds, leave the busiest core at least 2% less of C; results against float64 on the
    host's choice for such shapes (ragged ones too), in float32 and float64."""
    params = CpuParams(gemm_accumulators=24)

    def work(m, n, k, rows):
        return busiest_core_work(m, n, 2, gemm_blocks(m, n, k, 16, 2, params, rows=rows))

    for (m, n, k), rows in [((1000, 1000, 1000), 12), ((128, 1000, 576), 8),
                            ((200, 1000, 1000), 10), ((256, 1000, 2304), 8),
                            ((1024, 1024, 1024), 12), ((100, 1001, 1100), 10)]:
        assert gemm_blocks(m, n, k, 16, 2, params)[0] == rows, (m, n, k)
        if rows < 12:
            assert work(m, n, k, rows) <= 0.98 * work(m, n, k, 12)
    host = cpu_model(resolve_target(None))
    for dtype, (m, k, n) in [("float32", (128, 576, 1000)), ("float32", (203, 1000, 1001)),
                             ("float64", (100, 1100, 1001))]:
        itemsize = np.dtype(dtype).itemsize
        assert matmul_path(m, n, k, itemsize, host.params) == "blocked"
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        assert_close(tvmprims.matmul(a, b), matmul_ref(a, b), dtype, k)


def test_padded_a_is_copied_in_row_panels(rng):
    """M not a multiple of the tile's rows: the copy of A that padding makes is laid out in
    tile-row panels, which the micro-kernel reads in one stream; results on rows either
    side of the padding and on a 4 KiB row length (K = 1024)."""
    m, k, n = 1021, 1024, 300
    mi = gemm_blocks(m, n, k, cpu_model(resolve_target(None)).lanes("float32"), 2,
                     cpu_params(resolve_target(None)))[0]
    assert m % mi
    kernel = tvmprims.build("matmul", (m, k), (k, n), schedule="hand")
    assert f"A_pad = T.sblock_alloc_buffer(({-(-m // mi)}, {k}, {mi}))" in kernel.script()
    a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
    assert_close(kernel(a, b), matmul_ref(a, b), "float32", k)


@pytest.mark.parametrize("m,k,n", [(20, 1024, 2047), (32, 1024, 4095)])
def test_blocked_packing_of_a_ragged_n_is_vectorised(m, k, n, rng):
    """N not a multiple of the 2-vector panel: the packing's zero-padding condition varies
    across vector lanes, which TVM's vectoriser scalarises (a loop named ``<var>.s`` in the
    LLVM IR, a branch per element). The packing is annotated, its loops cut where the
    columns end (tvmprims._tvm.compile_module): no scalarised loop is left, and the result
    is right on either side of the cut (these shapes were scalarised without it)."""
    assert matmul_path(m, n, k, 4, cpu_params(resolve_target(None))) == "blocked"
    kernel = tvmprims.build("matmul", (m, k), (k, n), schedule="hand")
    assert ".s.preheader:" not in kernel.source()
    a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
    assert_close(kernel(a, b), matmul_ref(a, b), "float32", k)


def test_likely_conditions_mark_each_condition_once():
    from tvmprims._tvm import _likely_conditions, te, tirx
    x = te.placeholder((10,), name="x")
    y = te.compute((16,), lambda i: tirx.if_then_else(i < 10, x[i], 0.0), name="y")
    func = te.create_prim_func([x, y])
    once = _likely_conditions(func)
    assert once.script().count("T.likely(") == 1
    assert _likely_conditions(once).script().count("T.likely(") == 1


@pytest.mark.parametrize("name", ["avx512-znver4", "avx512-skylake"])
@pytest.mark.parametrize("m,k", [(1, 300), (100, 300), (100, 1100)])
def test_avx512_builds_every_path_with_its_register_file(name, m, k):
    """AVX-512 (cannot run here): each path compiles to zmm FMAs, and the blocked path's
    register tile is 12 rows x 2 zmm vectors (24 of 32 registers; AVX2: 6 x 2 of 16)."""
    target = CPU_TARGETS[name][0]
    params = cpu_params(target)
    assert params.gemm_accumulators == 24 and CpuParams().gemm_accumulators == 12
    kernel = _script(m, k, 1001, name)
    assert "%zmm" in kernel.assembly()
    mi, ni, *_ = gemm_blocks(m, 1001, k, 16, 2, params)
    if matmul_path(m, 1001, k, 4, params) == "blocked":
        assert 8 <= mi <= 12 and ni == 32  # 100 rows: 10 (5 tiles a core)
        assert f"T.unroll({mi})" in kernel.script() and "T.vectorized(32)" in kernel.script()


def test_columns_outer_rule():
    """Column panels go outermost only for a small A (fewer rows than columns, all of it
    within L2); the tile orders' results are checked by the im2col tests."""
    from tvmprims.schedules.gemm_tiling import columns_outer
    assert columns_outer(24, 3136, 144) and columns_outer(96, 196, 576)
    assert not columns_outer(384, 196, 64)        # more rows than columns
    assert not columns_outer(1024, 4095, 64)      # A of 64 Ki elements: row tiles outer
    assert not columns_outer(1280, 49 * 40, 320)
