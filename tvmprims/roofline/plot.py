"""Roofline figures (matplotlib, log-log): roofs from measured :class:`Peaks`, a point per
measured run, the bandwidth sweep, and model latency against FLOPs and parameters."""

import numpy as np

__all__ = ["draw_roofline", "draw_bandwidth", "draw_latency"]

MIB = 1 << 20


def draw_roofline(ax, peaks, points, groups=None, title=None):
    """Roofs of ``peaks`` and one marker per :class:`RooflinePoint` of ``points``
    (``groups``: a legend label per point, same length; points of a label share a colour)."""
    xs = [p.intensity for p in points] or [1.0]
    lo = min(min(xs) / 2, peaks.ridge / 20, 0.05)
    hi = max(max(xs) * 2, peaks.ridge * 20, 100)
    x = np.geomspace(lo, hi, 200)
    ax.plot(x, np.minimum(peaks.gflops, x * peaks.dram_gbps), "k-", lw=2,
            label=f"roof: {peaks.gflops:.0f} GFLOP/s, {peaks.dram_gbps:.0f} GB/s "
                  f"({peaks.bandwidth[-1][0] / MIB:.0f} MiB)")
    ax.plot(x, np.minimum(peaks.gflops, x * peaks.cache_gbps), "k--", lw=1,
            label=f"cache roof: {peaks.cache_gbps:.0f} GB/s")
    if peaks.gflops_core:
        ax.axhline(peaks.gflops_core, color="grey", ls=":", lw=1,
                   label=f"one core: {peaks.gflops_core:.0f} GFLOP/s")
    groups = groups or ["runs"] * len(points)
    for i, group in enumerate(dict.fromkeys(groups)):
        chosen = [p for p, g in zip(points, groups) if g == group]
        ax.scatter([p.intensity for p in chosen], [p.executed_gflops for p in chosen],
                   s=22, marker="os^Dv<>p*h"[i % 10], label=group, alpha=0.85, zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (executed FLOP / compulsory byte)")
    ax.set_ylabel("GFLOP/s (executed)")
    ax.set_title(title or f"Roofline: {peaks.device} ({peaks.target})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")


def draw_bandwidth(ax, peaks):
    """Triad bandwidth against working-set size, one core and all cores."""
    sizes = [row[0] / 1024 for row in peaks.bandwidth]
    if any(row[1] is not None for row in peaks.bandwidth):
        ax.plot(sizes, [row[1] for row in peaks.bandwidth], "o-", label="one core")
    ax.plot(sizes, [row[2] for row in peaks.bandwidth], "s-", label=f"all {peaks.cores} cores")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("working set (KiB, three arrays)")
    ax.set_ylabel("triad bandwidth (GB/s)")
    ax.set_title(f"Memory bandwidth: {peaks.device}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()


def draw_latency(axes, rows):
    """Two panels: latency against FLOPs and against parameters, one colour per batch size.
    ``rows``: dicts with ``model``, ``batch``, ``flops``, ``params``, ``latency_ms``."""
    batches = sorted({r["batch"] for r in rows})
    for ax, key, label in ((axes[0], "flops", "GFLOPs per forward pass"),
                           (axes[1], "params", "parameters (millions)")):
        scale = 1e9 if key == "flops" else 1e6
        for batch in batches:
            chosen = [r for r in rows if r["batch"] == batch]
            ax.scatter([r[key] / scale for r in chosen], [r["latency_ms"] for r in chosen],
                       s=20, label=f"batch {batch}")
        if len(batches) <= 2:  # few points: name them
            for r in rows:
                ax.annotate(r["model"], (r[key] / scale, r["latency_ms"]), fontsize=6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("latency (ms)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_title("Latency against FLOPs")
    axes[1].set_title("Latency against parameters")
