"""A one-row GEMV (1 x 64 @ 64 x 1000) whose odd rows of B are read from column 8 on, so that
with B 0 bytes past a 64-byte line every 64-byte load of every row starts on a line (a row
of 1000 floats is 4000 bytes, so rows start alternately 0 and 32 bytes past a line), against
the hand schedule and numpy (docs/BENCHMARKS.md, "Forked children ..."; measured and not
kept). Hand-written TIR; kernels called on TVM tensors, us, settled and interleaved, B placed
0, 16, 32 and 48 bytes past a line. Usage: ``PYTHONPATH=. python docs/gemv_row_parity.py``.
"""

import sys

import numpy as np
import tvm
import tvm_ffi
from tvm.script import tirx as T

import tvmprims
from tvmprims.target import resolve_target
from tvmprims.testing import assert_close, at_offset, matmul_ref
from tvmprims.timing import interleaved_best

K, N = 64, 1000


@T.prim_func
def row_parity(A: T.Buffer((1, K), "float32", align=4), B: T.Buffer((K, N), "float32", align=4),
               C: T.Buffer((1, N), "float32", align=4)):
    T.func_attr({"tirx.noalias": True, "global_symbol": "main"})
    odd = T.alloc_buffer((992,), "float32", align=64)  # odd rows' columns 8..999
    for j in T.vectorized(1000):
        C[0, j] = T.float32(0)
    for j in T.vectorized(992):
        odd[j] = T.float32(0)
    for k0 in range(K // 8):
        for t in range(31):
            for p in T.unroll(4):
                for u in T.unroll(2):
                    for lane in T.vectorized(16):
                        C[0, t * 32 + u * 16 + lane] = (
                            C[0, t * 32 + u * 16 + lane]
                            + A[0, k0 * 8 + 2 * p] * B[k0 * 8 + 2 * p, t * 32 + u * 16 + lane])
                for u in T.unroll(2):
                    for lane in T.vectorized(16):
                        odd[t * 32 + u * 16 + lane] = (
                            odd[t * 32 + u * 16 + lane]
                            + A[0, k0 * 8 + 2 * p + 1]
                            * B[k0 * 8 + 2 * p + 1, 8 + t * 32 + u * 16 + lane])
    for k in range(K):  # even rows' last 8 columns, odd rows' first 8
        for j in T.unroll(8):
            if k % 2 == 0:
                C[0, 992 + j] = C[0, 992 + j] + A[0, k] * B[k, 992 + j]
            else:
                C[0, j] = C[0, j] + A[0, k] * B[k, j]
    for j in T.vectorized(992):
        C[0, 8 + j] = C[0, 8 + j] + odd[j]


def main():
    target = resolve_target(None)
    parity = tvm.compile(tvm.IRModule({"main": row_parity}), target=target).mod["main"]
    hand = tvmprims.build("matmul", (1, K), (K, N)).module["main"]
    rng = np.random.default_rng(0)
    a = rng.random((1, K)).astype(np.float32)
    out = np.empty((1, N), np.float32)
    for offset in (0, 16, 32, 48):
        b = at_offset(rng.random((K, N)).astype(np.float32), offset)
        args = [tvm_ffi.from_dlpack(x) for x in (a, b, out)]
        for kernel in (hand, parity):
            kernel(*args)
            assert_close(out, matmul_ref(a, b), "float32", K)
        times = interleaved_best([lambda: hand(*args), lambda: parity(*args), lambda: a @ b],
                                 rounds=5)
        print("B +{:2d} bytes: hand {:.2f} | odd rows from column 8 {:.2f} | numpy {:.2f}"
              .format(offset, *(t * 1e6 for t in times)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
