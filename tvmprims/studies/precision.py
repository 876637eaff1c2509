"""Precision study: error of every algorithm against a float64 reference, per kernel dtype.

Every algorithm (conv2d: direct, im2col, Winograd F(2x2,3x3) and F(4x4,3x3), FFT; matmul:
direct, log domain, approximate log domain at several remainder bit widths) is compiled at
bfloat16, float16, float32 and float64 and run on the *same* inputs: unit-normal values
rounded so that every dtype represents them exactly, so the errors measured are the kernels'
own (arithmetic and accumulation in that dtype), not input rounding. The reference is the
float64 torch/numpy result on those inputs. A dtype that TVM cannot compile for an algorithm
is reported as such. Half-precision kernels accumulate in half precision, as the TE
definitions say: that is the point of the comparison.
"""

import dataclasses
import time

import numpy as np

from .. import testing
from .._tvm import tvm
from ..build import build_workload
from ..ops import matmul as matmul_op
from ..ops import matmul_log
from ..ops.registry import CONV2D_ALGORITHM_TABLE, conv2d_workload
from .output import new_figure, save_figure, write_csv

__all__ = ["PRECISIONS", "CONV_ALGORITHMS", "MATMUL_ALGORITHMS", "run", "plot"]

#: Kernel dtypes, from least to most precise (mantissa bits 8, 11, 24, 53).
PRECISIONS = ("bfloat16", "float16", "float32", "float64")
#: Every conv2d algorithm of the registry's table.
CONV_ALGORITHMS = tuple(CONV2D_ALGORITHM_TABLE)
#: matmul algorithms: label -> (algo, log_bits).
MATMUL_ALGORITHMS = {"matmul": ("direct", None), "log": ("log", None),
                     "log-approx-2": ("log-approx", 2), "log-approx-4": ("log-approx", 4),
                     "log-approx-6": ("log-approx", 6)}


def sizes(quick):
    """``(conv x shape, conv w shape, matmul a shape, matmul b shape)``."""
    if quick:
        return (1, 4, 10, 10), (4, 4, 3, 3), (16, 32), (32, 16)
    return (1, 16, 24, 24), (16, 16, 3, 3), (64, 256), (256, 64)


def representable(shape, rng):
    """Unit-normal float64 values exactly representable in bfloat16 and float16."""
    import ml_dtypes
    x = rng.standard_normal(shape).astype(ml_dtypes.bfloat16).astype(np.float64)
    x[np.abs(x) < 2.0 ** -14] = 0.0  # float16 subnormals would lose bits
    assert np.array_equal(x.astype(np.float16).astype(np.float64), x)
    return x


def _numpy_dtype(dtype):
    if dtype == "bfloat16":
        import ml_dtypes
        return ml_dtypes.bfloat16
    return np.dtype(dtype)


def run_kernel(kernel, arrays):
    """Run ``kernel`` on float64 ``arrays`` cast to its dtype (any dtype TVM runs, bfloat16
    included, through TVM tensors); returns the output as float64."""
    dtype, dev = kernel.workload.dtype, tvm.cpu()
    args = []
    for a in arrays:
        t = tvm.runtime.empty(a.shape, dtype, dev)
        t.copyfrom(np.ascontiguousarray(a.astype(_numpy_dtype(dtype))))
        args.append(t)
    out = tvm.runtime.empty(kernel.workload.output_shape, dtype, dev)
    kernel.module["main"](*args, out)
    return out.numpy().astype(np.float64)


def _build(wl, dtype):
    """``(kernel, schedule)`` at ``dtype``: the hand schedule, else no schedule."""
    wl = dataclasses.replace(wl, dtype=dtype)  # half dtypes: kernels only, not the numpy API
    try:
        return build_workload(wl, "llvm", "hand"), "hand"
    except Exception:  # a hand schedule written for 32/64-bit floats; try the plain TIR
        return build_workload(wl, "llvm", "none"), "none"


def _cases(quick, rng):
    """``(label, family, workload, inputs, reference)`` for every algorithm."""
    x_shape, w_shape, a_shape, b_shape = sizes(quick)
    x, w = representable(x_shape, rng), representable(w_shape, rng)
    conv_ref = testing.conv2d_ref(x, w, padding=1)
    for algo in CONV_ALGORITHMS:
        yield (algo, "conv2d", conv2d_workload(x_shape, w_shape, None, "float32", padding=1,
                                               algo=algo), (x, w), conv_ref)
    a, b = representable(a_shape, rng), representable(b_shape, rng)
    mm_ref = testing.matmul_ref(a, b)
    for label, (algo, bits) in MATMUL_ALGORITHMS.items():
        wl = (matmul_op.workload(a_shape, b_shape) if algo == "direct"
              else matmul_log.workload(a_shape, b_shape, bits=bits))
        yield label, "matmul", wl, (a, b), mm_ref


def run(quick=False, out_dir="results", report=print, seed=0):
    """Run the study; writes ``precision.csv`` and ``precision.png`` in ``out_dir`` and returns
    the rows (dicts: algorithm, family, dtype, schedule, max_rel_error, mean_rel_error, status).
    """
    rng = np.random.default_rng(seed)
    rows, start = [], time.perf_counter()
    cases = list(_cases(quick, rng))
    total = len(cases) * len(PRECISIONS)
    for label, family, wl, inputs, ref in cases:
        for dtype in PRECISIONS:
            row = {"algorithm": label, "family": family, "dtype": dtype, "schedule": "",
                   "max_rel_error": "", "mean_rel_error": "", "status": "ok"}
            try:
                kernel, row["schedule"] = _build(wl, dtype)
                out = run_kernel(kernel, inputs)
                diff = np.abs(out - ref)
                row["max_rel_error"] = float(diff.max() / np.abs(ref).max())
                row["mean_rel_error"] = float(diff.mean() / np.abs(ref).mean())
                if not np.all(np.isfinite(out)):
                    row["status"] = "non-finite output"
            except Exception as e:  # recorded: which dtypes TVM supports is part of the result
                row["status"] = f"unsupported: {type(e).__name__}: {str(e).splitlines()[0][:120]}"
            rows.append(row)
            if report:
                err = (f"{row['max_rel_error']:.2e}" if row["max_rel_error"] != ""
                       else row["status"])
                report(f"[{len(rows)}/{total} {time.perf_counter() - start:5.1f}s] "
                       f"{label:<13} {dtype:<9} {err}")
    write_csv(f"{out_dir}/precision.csv", rows)
    plot(rows, f"{out_dir}/precision.png")
    return rows


def plot(rows, path):
    """Max relative error against kernel precision, one line per algorithm (log scale)."""
    fig, (ax,) = new_figure(width=7.5, height=4.8)
    labels = list(dict.fromkeys(r["algorithm"] for r in rows))
    for label in labels:
        points = [(PRECISIONS.index(r["dtype"]), r["max_rel_error"]) for r in rows
                  if r["algorithm"] == label and r["status"] == "ok"]
        if points:
            xs, ys = zip(*points)
            style = "--" if any(r["family"] == "matmul" for r in rows if r["algorithm"] == label) \
                else "-"
            ax.plot(xs, [max(y, 1e-18) for y in ys], style, marker="o", label=label)
    ax.set_xticks(range(len(PRECISIONS)), PRECISIONS)
    ax.set_yscale("log")
    ax.set_xlabel("kernel dtype")
    ax.set_ylabel("max |out - ref| / max |ref|  (exact: drawn at 1e-18)")
    ax.set_title("Error against a float64 reference (conv2d solid, matmul dashed)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    return save_figure(fig, path)
