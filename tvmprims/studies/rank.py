"""Rank study: truncated-SVD error and low-rank matmul speed against rank.

1. **Error**: relative Frobenius error ``||W - W_r|| / ||W||`` of the best rank-r
   approximation (:func:`tvmprims.lowrank.factorize`, reconstructed by a tvmprims kernel) for
   a Gaussian random matrix (slow decay: every direction matters), a matrix of known rank 16
   plus 1e-6 noise (the error collapses at rank 16), and a natural image: the Grace Hopper
   photograph that matplotlib ships (grayscale), whose spectrum decays like a power law.
2. **Speed**: ``A @ B`` with A (n, n) replaced by rank-r factors L (n, r), R (r, n),
   computed as ``L @ (R @ B)`` by tvmprims matmul kernels, against the full GEMM kernel, for
   r from 1 to n. FLOPs are ``4 r n^2`` against ``2 n^3``, so the break-even rank is n/2 in
   theory; the measured speed-up follows the FLOP ratio down from rank 64 or so, and falls
   short of it at small ranks, where the skinny products' fixed costs (packing, thread
   launch) dominate. The factorisation itself is not timed: factors are computed once per
   weight.
"""

import time

import numpy as np

from ..api import build
from ..lowrank import factorize
from .output import new_figure, save_figure, write_csv

__all__ = ["matrices", "error_rows", "speed_rows", "break_even", "run"]


def natural_image():
    """The Grace Hopper photograph shipped with matplotlib, grayscale float64 in [0, 1]."""
    import matplotlib.cbook
    import matplotlib.image
    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    img = matplotlib.image.imread(path).astype(np.float64)
    return img[..., :3].mean(axis=2) / 255.0


def matrices(quick, rng):
    """``{name: matrix}``: random, known low rank, natural image (float32)."""
    n = 96 if quick else 384
    low = rng.standard_normal((n, 16)) @ rng.standard_normal((16, n)) / 4
    image = natural_image()
    if quick:
        image = image[::4, ::4]
    return {"random": rng.standard_normal((n, n)),
            "rank-16": low + 1e-6 * rng.standard_normal((n, n)),
            "image": image}


def _ranks(full, quick):
    step = max(1, full // (12 if quick else 40))
    candidates = {1, 2, 4, 8, 12, 16, 20, 24, 32, full, *range(step, full + 1, step)}
    return sorted(r for r in candidates if r <= full)


def error_rows(quick, rng, report=print):
    rows = []
    for name, w in matrices(quick, rng).items():
        w32 = w.astype(np.float32)
        norm = np.linalg.norm(w)
        ranks = _ranks(min(w.shape), quick)
        for rank in ranks:
            approx = factorize(w32, rank).dense()
            rows.append({"matrix": name, "shape": "x".join(map(str, w.shape)), "rank": rank,
                         "rel_error": float(np.linalg.norm(approx - w) / norm)})
        if report:
            report(f"error: {name} {w.shape}, {len(ranks)} ranks up to {ranks[-1]}: "
                   f"{rows[-len(ranks)]['rel_error']:.3f} .. {rows[-1]['rel_error']:.1e}")
    return rows


def speed_rows(quick, report=print):
    n = 256 if quick else 1024
    timing = dict(repeat=3, min_repeat_ms=50) if quick else {}

    def seconds(a_shape, b_shape):
        return build("matmul", a_shape, b_shape).time(**timing).seconds

    full = seconds((n, n), (n, n))
    ranks = [r for r in (1, 2, 4, 8, 16, 32, 64, 128, 192, 256, 320, 384, 448, 512, 640, 768,
                         1024) if r <= n]
    rows = []
    for rank in ranks:
        low = seconds((rank, n), (n, n)) + seconds((n, rank), (rank, n))  # L @ (R @ B)
        rows.append({"n": n, "rank": rank, "full_ms": full * 1e3, "lowrank_ms": low * 1e3,
                     "speedup": full / low, "flop_ratio": 2 * n ** 3 / (4 * rank * n * n)})
        if report:
            report(f"speed: n={n} rank {rank:4d}: {low * 1e3:8.3f} ms vs full "
                   f"{full * 1e3:.3f} ms, speed-up {full / low:6.2f}x")
    return rows


def break_even(rows):
    """Rank where the measured speed-up crosses 1 (log-linear interpolation), or None."""
    for a, b in zip(rows, rows[1:]):
        if a["speedup"] >= 1 > b["speedup"]:
            la, lb = np.log(a["speedup"]), np.log(b["speedup"])
            return a["rank"] + (b["rank"] - a["rank"]) * la / (la - lb)
    return None


def run(quick=False, out_dir="results", report=print, seed=0):
    """Run both parts; writes ``rank_error.csv``, ``rank_speed.csv`` and ``rank.png`` in
    ``out_dir``. Returns ``(error rows, speed rows, break-even rank)``."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    errors = error_rows(quick, rng, report)
    speeds = speed_rows(quick, report)
    even = break_even(speeds)
    write_csv(f"{out_dir}/rank_error.csv", errors)
    write_csv(f"{out_dir}/rank_speed.csv", speeds)
    plot(errors, speeds, even, f"{out_dir}/rank.png")
    if report:
        n = speeds[0]["n"]
        report(f"break-even rank for n={n}: measured "
               f"{'none' if even is None else f'{even:.0f}'}, FLOP count {n // 2} "
               f"({time.perf_counter() - start:.0f} s)")
    return errors, speeds, even


def plot(errors, speeds, even, path):
    fig, (ax1, ax2) = new_figure(ncols=2, width=6.0, height=4.4)
    for name in dict.fromkeys(r["matrix"] for r in errors):
        pts = [(r["rank"], r["rel_error"]) for r in errors if r["matrix"] == name]
        shape = next(r["shape"] for r in errors if r["matrix"] == name)
        ax1.plot(*zip(*pts), marker=".", label=f"{name} ({shape})")
    ax1.set_yscale("log")
    ax1.set_xlabel("rank")
    ax1.set_ylabel("||W - W_r||_F / ||W||_F")
    ax1.set_title("Truncated SVD error")
    ax1.grid(True, alpha=0.3)
    ax1.legend()

    n = speeds[0]["n"]
    ranks = [r["rank"] for r in speeds]
    ax2.plot(ranks, [r["speedup"] for r in speeds], marker="o", label="measured (TVM kernels)")
    ax2.plot(ranks, [r["flop_ratio"] for r in speeds], "--", label="FLOP ratio 2n^3 / 4rn^2")
    ax2.axhline(1.0, color="gray", lw=0.8)
    if even is not None:
        ax2.axvline(even, color="red", lw=0.8, ls=":", label=f"break-even r = {even:.0f}")
    ax2.set_xscale("log", base=2)
    ax2.set_yscale("log")
    ax2.set_xlabel("rank r")
    ax2.set_ylabel("full GEMM time / low-rank time")
    ax2.set_title(f"L @ (R @ B) against A @ B, n = {n}")
    ax2.grid(True, alpha=0.3)
    ax2.legend()
    return save_figure(fig, path)
