"""Blocked GEMMs whose N is not a whole number of panels: the hand schedule compiled as
before 2026-12-06 (``tvm.compile``: TVM's vectoriser scalarises the packing of B, whose
zero-padding condition varies across lanes) and as now (``tvmprims._tvm.compile_module``
with ``PARTITION_PADDING``: the loops cut where the columns end), each kernel called
directly, and ``tvmprims.matmul`` and numpy, alternately in one run on ``np.random.rand``
arrays. docs/BENCHMARKS.md, "Second pass, ragged GEMM packing, prime-width conv tiles".

``PYTHONPATH=. python docs/ragged_gemm_packing.py`` on a quiet machine.
"""

import numpy as np

import tvmprims
from tvmprims._tvm import compile_module, element_aligned_arguments, tvm
from tvmprims.build import hand_schedule
from tvmprims.target import resolve_target
from tvmprims.testing import assert_close, matmul_ref
from tvmprims.timing import interleaved_best
from tvmprims.workload import Workload

SHAPES = [(32, 1024, 4095), (20, 1024, 2047), (1024, 4608, 4095), (1024, 9216, 257)]


def main():
    target = resolve_target("llvm")
    print(f"{'M x K x N':<18}{'before ms':>10}{'now ms':>9}{'matmul ms':>11}{'numpy ms':>10}")
    for m, k, n in SHAPES:
        a = np.random.rand(m, k).astype(np.float32)
        b = np.random.rand(k, n).astype(np.float32)
        mod = element_aligned_arguments(
            hand_schedule(Workload.make("matmul", ((m, k), (k, n)), "float32"), target).mod)
        before = tvm.compile(mod, target=target).mod["main"]
        now = compile_module(mod, target).mod["main"]
        outs = [np.empty((m, n), np.float32) for _ in range(2)]
        before(a, b, outs[0])
        now(a, b, outs[1])
        for out in (*outs, tvmprims.matmul(a, b)):
            assert_close(out, matmul_ref(a, b), "float32", k)
        times = interleaved_best([lambda: before(a, b, outs[0]), lambda: now(a, b, outs[1]),
                                  lambda: tvmprims.matmul(a, b), lambda: np.matmul(a, b)],
                                 rounds=5)
        print(f"{f'{m}x{k}x{n}':<18}" + "".join(f"{t * 1e3:>{w}.3f}"
                                                  for t, w in zip(times, (10, 9, 11, 10))))


if __name__ == "__main__":
    main()
