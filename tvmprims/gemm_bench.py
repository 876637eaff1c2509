"""GEMM shape sweep: ``tvmprims.matmul`` against ``numpy.matmul`` in the same run.

Arrays are made as users make them (``np.random.rand(M, K).astype(np.float32)``, so their
alignment is whatever numpy gives). Each shape is timed in interleaved rounds (tvmprims API,
numpy, the kernel alone on 64-byte aligned copies), each after settling calls that let the
other library's worker threads stop spinning (:func:`tvmprims.timing.interleaved_best`),
keeping the best of each; ratios are
numpy time / tvmprims time (above 1: tvmprims is faster).

``--cpu-time`` times one thread's CPU time (``time.thread_time``) instead of wall time: on a
machine shared with other jobs it does not count the time the thread waits for a core. It
needs one thread on both sides, set before Python starts:
``TVM_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m tvmprims.gemm_bench --cpu-time``.

Run: ``python -m tvmprims.gemm_bench [--quick] [--cpu-time]``.
"""

import itertools
import math
import os
import time

import numpy as np

from .api import build, matmul
from .arrays import aligned_empty
from .timing import geomean, interleaved_best

__all__ = ["SWEEP", "ISSUE_CASES", "sweep_shapes", "measure", "run", "format_rows"]

#: The sweep's axes: batch sizes, reduction lengths and output widths people call.
SWEEP = {"m": (1, 4, 16, 64, 256, 1024), "k": (64, 576, 4096, 9216), "n": (1000, 4095, 4096)}

#: The issue's cases: batch-1 fully connected, M=64 GEMM, AlexNet fc6 at batch 128.
ISSUE_CASES = ((1, 4096, 4096), (64, 4096, 4096), (128, 9216, 4096))


def sweep_shapes(max_flops=4.5e9):
    """``(m, k, n)`` of the sweep (at most ``max_flops`` each, to keep a run short) and the
    issue's cases."""
    shapes = [s for s in itertools.product(SWEEP["m"], SWEEP["k"], SWEEP["n"])
              if 2 * math.prod(s) <= max_flops]
    return shapes + [s for s in ISSUE_CASES if s not in shapes]


def _aligned(x):
    copy = aligned_empty(x.shape, x.dtype)
    copy[...] = x
    return copy


def measure(m, k, n, rounds=3, seconds=0.05, target="llvm", clock=time.perf_counter,
            schedule="auto"):
    """Seconds per call: ``{"api", "numpy", "kernel"}``, each the best single call over
    ``rounds`` interleaved rounds (:func:`tvmprims.timing.interleaved_best`, with blocks of
    ``seconds`` after the settling calls). ``schedule``: as :func:`tvmprims.matmul`'s
    (``"hand"`` leaves tuned records out)."""
    rng = np.random.default_rng(0)
    a = rng.random((m, k)).astype(np.float32)
    b = rng.random((k, n)).astype(np.float32)
    kernel = build("matmul", (m, k), (k, n), target=target, schedule=schedule)
    aligned = [_aligned(a), _aligned(b), aligned_empty((m, n), np.float32)]
    func = kernel.module["main"]
    calls = {"api": lambda: matmul(a, b, target=target, schedule=schedule),
             "numpy": lambda: np.matmul(a, b),
             "kernel": lambda: func(*aligned)}
    best = interleaved_best(tuple(calls.values()), rounds, seconds, clock=clock)
    return dict(zip(calls, best))


def run(shapes, rounds=3, seconds=0.05, target="llvm", progress=print, clock=time.perf_counter,
        schedule="auto"):
    """One row dict per shape: times, ratios (numpy / tvmprims) for the API and the kernel,
    GFLOP/s and, for M=1, the GB/s read from B."""
    rows = []
    for m, k, n in shapes:
        t = measure(m, k, n, rounds, seconds, target, clock, schedule)
        row = {"m": m, "k": k, "n": n, **t, "api_ratio": t["numpy"] / t["api"],
               "kernel_ratio": t["numpy"] / t["kernel"],
               "gflops": 2 * m * k * n / t["kernel"] / 1e9,
               "b_gbps": 4 * k * n / t["kernel"] / 1e9,
               "numpy_b_gbps": 4 * k * n / t["numpy"] / 1e9}
        rows.append(row)
        if progress:
            progress(format_rows([row], header=False))
    return rows


def format_rows(rows, header=True):
    """A plain-text table of ``rows``; with ``header``, also the geomean and worst ratios."""
    lines = []
    if header:
        lines.append(f"{'M':>5}{'K':>6}{'N':>6}{'numpy ms':>10}{'api ms':>10}{'kernel ms':>10}"
                     f"{'api x':>7}{'kern x':>7}{'GFLOP/s':>9}{'B GB/s':>8}")
    for r in rows:
        lines.append(f"{r['m']:>5}{r['k']:>6}{r['n']:>6}{r['numpy'] * 1e3:>10.3f}"
                     f"{r['api'] * 1e3:>10.3f}{r['kernel'] * 1e3:>10.3f}{r['api_ratio']:>7.2f}"
                     f"{r['kernel_ratio']:>7.2f}{r['gflops']:>9.1f}{r['b_gbps']:>8.1f}")
    if header:
        for key in ("api_ratio", "kernel_ratio"):
            worst = min(rows, key=lambda r: r[key])
            lines.append(f"{key}: geomean {geomean(r[key] for r in rows):.2f}x, worst "
                         f"{worst[key]:.2f}x at {worst['m']}x{worst['k']}x{worst['n']}")
    return "\n".join(lines)


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the issue's three cases only")
    parser.add_argument("--shape", action="append", default=[],
                        help="MxKxN (repeatable): these shapes only")
    parser.add_argument("--max-gflop", type=float, default=4.5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpu-time", action="store_true",
                        help="one thread's CPU time (needs TVM_NUM_THREADS=1 and "
                             "OPENBLAS_NUM_THREADS=1)")
    parser.add_argument("--schedule", default="auto", choices=("auto", "hand", "tuned"),
                        help="tvmprims' schedule: 'hand' leaves tuned records out")
    args = parser.parse_args(argv)
    clock = time.perf_counter
    if args.cpu_time:
        if not (os.environ.get("TVM_NUM_THREADS") == "1" == os.environ.get("OPENBLAS_NUM_THREADS")):
            parser.error("--cpu-time needs TVM_NUM_THREADS=1 and OPENBLAS_NUM_THREADS=1")
        clock = time.thread_time
    if args.shape:
        shapes = [tuple(int(x) for x in s.split("x")) for s in args.shape]
    else:
        shapes = list(ISSUE_CASES) if args.quick else sweep_shapes(args.max_gflop * 1e9)
    start = time.perf_counter()
    rows = run(shapes, args.rounds, clock=clock, schedule=args.schedule)
    print()
    print(format_rows(rows))
    print(f"({len(rows)} shapes in {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
