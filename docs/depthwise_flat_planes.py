"""Depthwise 3x3 (stride 1, padding 1) on planes flattened with their padded width: each
channel's zero-padded plane stored as one row of ``(H + 2) * (W + 2)`` values, outputs
computed in padded-width coordinates as whole vectors of 16 (each tap one unaligned load at
offset ``dy * (W + 2) + dx``), the two padding columns of each row dropped when written out.
A hand-written TIR probe against the hand schedule and torch, kernels on TVM tensors, us,
interleaved (docs/BENCHMARKS.md, "Forked children ...": measured and not kept). Usage:
``PYTHONPATH=. python docs/depthwise_flat_planes.py [CxH ...]``.
"""

import sys

import numpy as np
import torch
import tvm
import tvm_ffi
from tvm.script import tirx as T

import tvmprims
from tvmprims.target import resolve_target
from tvmprims.testing import assert_close, depthwise_conv2d_ref
from tvmprims.timing import interleaved_best


def flat_kernel(c, h):
    """The probe's TIR for ``c`` channels of ``h x h`` planes."""
    w, wp = h, h + 2
    vectors = -(-(h * wp) // 16)
    length = -(-max(vectors * 16 + 2 * wp + 2, (h + 2) * wp) // 16) * 16

    @T.prim_func
    def flat(X: T.Buffer((1, c, h, w), "float32", align=4),
             Wt: T.Buffer((c, 1, 3, 3), "float32", align=4),
             Y: T.Buffer((1, c, h, w), "float32", align=4)):
        T.func_attr({"tirx.noalias": True, "global_symbol": "main"})
        for ch in T.parallel(c):
            P = T.alloc_buffer((length,), "float32", align=64)
            O = T.alloc_buffer((vectors * 16,), "float32", align=64)
            for q in T.vectorized(length):
                P[q] = T.float32(0)
            for y in range(h):
                for x in T.vectorized(w):
                    P[(y + 1) * wp + 1 + x] = X[0, ch, y, x]
            for v in range(vectors):
                for lane in T.vectorized(16):
                    O[v * 16 + lane] = T.float32(0)
                for dy in T.unroll(3):
                    for dx in T.unroll(3):
                        for lane in T.vectorized(16):
                            O[v * 16 + lane] = (O[v * 16 + lane] + Wt[ch, 0, dy, dx]
                                                * P[v * 16 + lane + dy * wp + dx])
            for y in range(h):
                for x in T.vectorized(w):
                    Y[0, ch, y, x] = O[y * wp + x]

    return tvm.compile(tvm.IRModule({"main": flat}), target=resolve_target(None)).mod["main"]


def main(layers):
    rng = np.random.default_rng(0)
    for layer in layers:
        c, h = map(int, layer.split("x"))
        flat = flat_kernel(c, h)
        hand = tvmprims.build("depthwise_conv2d", (1, c, h, h), (c, 1, 3, 3),
                              padding=1).module["main"]
        x = rng.random((1, c, h, h)).astype(np.float32)
        w = rng.random((c, 1, 3, 3)).astype(np.float32)
        y = np.empty_like(x)
        for kernel in (hand, flat):
            kernel(x, w, y)
            assert_close(y, depthwise_conv2d_ref(x, w, padding=1), "float32", 9)
        args = [tvm_ffi.from_dlpack(a) for a in (x, w, y)]
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)
        times = interleaved_best([lambda: hand(*args), lambda: flat(*args),
                                  lambda: torch.nn.functional.conv2d(xt, wt, padding=1,
                                                                     groups=c)], rounds=7)
        print("{}x{}x{}: hand {:.1f} | flat planes {:.1f} | torch {:.1f}".format(
            c, h, h, *(t * 1e6 for t in times)), flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["384x14", "576x14", "960x7", "1152x7"]))
