"""The few-rows GEMM (``schedules/gemm_tiling.py``, ``schedule_cpu_gemv``) with the target's
vectors against vectors of half the width, on B placed 0, 16 and 32 bytes past a 64-byte line,
beside numpy (docs/BENCHMARKS.md, "The small GEMV's call, measured again"). The kernels'
calls on TVM tensors (TVM's call of about 0.15 us included), numpy's whole call, us, settled
and interleaved. With N = 1000 floats a row of B is 4000 bytes, so its rows start alternately
0 and 32 bytes (or 16 and 48) past a line, and a 64-byte load of every other row (of every
row) spans two lines.

    PYTHONPATH=docs:. python docs/gemv_load_width.py 1x64x1000 1x64x1024 1x64x1001
"""

import sys

import numpy as np
import tvm_ffi
from schedule_variants import replaced, start

import tvmprims
from tvmprims.schedules import gemm_tiling
from tvmprims.testing import assert_close, at_offset, matmul_ref
from tvmprims.timing import interleaved_best

HAND = gemm_tiling.schedule_cpu_gemv


def half_vectors(sch, name, lanes, *args, **kwargs):
    return HAND(sch, name, lanes // 2, *args, **kwargs)


def main(shapes):
    start()
    rng = np.random.default_rng(0)
    for shape in shapes:
        m, k, n = map(int, shape.split("x"))
        kernels = {}
        for name, patches in (("full", []), ("half", [(gemm_tiling, "schedule_cpu_gemv",
                                                        half_vectors)])):
            with replaced(*patches):
                kernels[name] = tvmprims.build("matmul", (m, k), (k, n)).module["main"]
        a = rng.random((m, k)).astype(np.float32)
        out = np.empty((m, n), np.float32)
        for offset in (0, 16, 32):
            b = at_offset(rng.random((k, n)).astype(np.float32), offset)
            args = [tvm_ffi.from_dlpack(x) for x in (a, b, out)]
            for kernel in kernels.values():
                kernel(*args)
                assert_close(out, matmul_ref(a, b), "float32", k)
            calls = [lambda f=f: f(*args) for f in kernels.values()] + [lambda: a @ b]
            full, half, numpy = (t * 1e6 for t in interleaved_best(calls, rounds=3))
            print(f"{shape} B +{offset:2d} B: full vectors {full:.2f} | half {half:.2f} | "
                  f"numpy {numpy:.2f} | half / full {half / full:.3f}", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["1x64x1000", "1x64x1024", "1x64x1001"]))
