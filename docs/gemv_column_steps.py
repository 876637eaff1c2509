"""The few-rows GEMM's column vectors per step (``schedules/gemm_tiling.py``,
:func:`gemv_column_unroll`) against one vector a step, and numpy, timed alternately in one
run: the kernels' calls on TVM tensors (us; TVM's call of about 0.15 us included), numpy's
whole call. Two threads each side.

    PYTHONPATH=docs:. python docs/gemv_column_steps.py 2x64x1000 4x64x1000 8x64x1000

Shapes are ``MxKxN`` with M at most ``gemv_max_rows`` (8).
"""

import sys

import numpy as np
import tvm_ffi
from schedule_variants import replaced, start

import tvmprims
from tvmprims.schedules import gemm_tiling
from tvmprims.testing import assert_close, matmul_ref
from tvmprims.timing import interleaved_best

VARIANTS = {"rule": [], "one vector": [(gemm_tiling, "gemv_column_unroll", lambda *a: 1)]}


def main(shapes):
    start()
    for shape in shapes:
        m, k, n = map(int, shape.split("x"))
        rng = np.random.default_rng(0)
        a = rng.random((m, k)).astype(np.float32)
        b = rng.random((k, n)).astype(np.float32)
        out = np.empty((m, n), np.float32)
        tensors = [tvm_ffi.from_dlpack(x) for x in (a, b, out)]
        calls = []
        for patches in VARIANTS.values():
            with replaced(*patches):
                kernel = tvmprims.build("matmul", a.shape, b.shape, schedule="hand")
            assert_close(kernel(a, b), matmul_ref(a, b), "float32", k)
            calls.append(lambda f=kernel._func: f(*tensors))
        times = interleaved_best(calls + [lambda: np.matmul(a, b)], rounds=5)
        cells = [f"{name}: {t * 1e6:.2f}" for name, t in zip(VARIANTS, times)]
        print(shape, " | ".join(cells), f"| numpy {times[-1] * 1e6:.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
