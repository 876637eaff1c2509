"""GEMM shape sweep: ``tvmprims.matmul`` against ``numpy.matmul`` in the same run.

Arrays are made as users make them (``np.random.rand(M, K).astype(np.float32)``, so their
alignment is whatever numpy gives). Each shape is timed in interleaved rounds (tvmprims API,
numpy, the kernel alone through ``Kernel.time``), keeping the best of each; ratios are numpy
time / tvmprims time (above 1: tvmprims is faster).

Run: ``python -m tvmprims.gemm_bench [--quick]``.
"""

import itertools
import math
import time

import numpy as np

from .api import build, matmul
from .timing import best_time

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


def measure(m, k, n, rounds=3, seconds=0.1, target="llvm"):
    """Seconds per call: ``{"api", "numpy", "kernel"}``, each the best over ``rounds``
    interleaved rounds of ``best_time`` (``seconds`` each)."""
    rng = np.random.default_rng(0)
    a = rng.random((m, k)).astype(np.float32)
    b = rng.random((k, n)).astype(np.float32)
    kernel = build("matmul", (m, k), (k, n), target=target)
    matmul(a, b, target=target)  # compile and cache before timing
    best = dict.fromkeys(("api", "numpy", "kernel"), math.inf)
    for _ in range(rounds):
        best["api"] = min(best["api"], best_time(lambda: matmul(a, b, target=target), seconds))
        best["numpy"] = min(best["numpy"], best_time(lambda: np.matmul(a, b), seconds))
        best["kernel"] = min(best["kernel"], kernel.time(a, b, repeat=3,
                                                           min_repeat_ms=int(seconds * 300)).seconds)
    return best


def run(shapes, rounds=3, seconds=0.1, target="llvm", progress=print):
    """One row dict per shape: times, ratios (numpy / tvmprims) for the API and the kernel,
    GFLOP/s and, for M=1, the GB/s read from B."""
    rows = []
    for m, k, n in shapes:
        t = measure(m, k, n, rounds, seconds, target)
        row = {"m": m, "k": k, "n": n, **t, "api_ratio": t["numpy"] / t["api"],
               "kernel_ratio": t["numpy"] / t["kernel"],
               "gflops": 2 * m * k * n / t["kernel"] / 1e9,
               "b_gbps": 4 * k * n / t["kernel"] / 1e9,
               "numpy_b_gbps": 4 * k * n / t["numpy"] / 1e9}
        rows.append(row)
        if progress:
            progress(format_rows([row], header=False))
    return rows


def _geomean(values):
    values = list(values)
    return math.exp(sum(map(math.log, values)) / len(values))


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
            lines.append(f"{key}: geomean {_geomean(r[key] for r in rows):.2f}x, worst "
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
    args = parser.parse_args(argv)
    if args.shape:
        shapes = [tuple(int(x) for x in s.split("x")) for s in args.shape]
    else:
        shapes = list(ISSUE_CASES) if args.quick else sweep_shapes(args.max_gflop * 1e9)
    start = time.perf_counter()
    rows = run(shapes, args.rounds)
    print()
    print(format_rows(rows))
    print(f"({len(rows)} shapes in {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
