"""Reports of the layer suite (:mod:`tvmprims.layer_suite`): a CSV of every row, a plot of
the ratios sorted, and a Markdown summary and table for ``docs/BENCHMARKS.md``."""

import csv
import math

from .layer_suite import summarize

__all__ = ["CSV_COLUMNS", "write_csv", "write_plot", "markdown", "summary_text", "write_all"]

#: The CSV's columns (times in milliseconds, first call in seconds).
CSV_COLUMNS = ("category", "case", "op", "shapes", "params", "reference", "tvmprims_ms",
               "ref_ms", "ratio", "gflops", "ref_gflops", "executed_gflops", "percent_of_roof",
               "first_call_s", "algorithm", "rel_error", "status", "retimed", "users", "models",
               "layers")


def _csv_row(row):
    out = {k: row.get(k) for k in CSV_COLUMNS}
    for name in ("tvmprims", "ref"):
        seconds = row[f"{name}_s"]
        out[f"{name}_ms"] = None if seconds is None else seconds * 1e3
    return out


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(_csv_row(r) for r in rows)


def write_plot(rows, path, title="tvmprims layer suite"):
    """Bars of every measured row's ratio, sorted, coloured by category, on a log scale;
    wrong results marked with a red cross."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    timed = sorted((r for r in rows if r["ratio"] is not None), key=lambda r: r["ratio"])
    fig, ax = plt.subplots(figsize=(max(6, 0.12 * len(timed) + 3), 4.5))
    categories = list(dict.fromkeys(r["category"] for r in rows))
    colors = {c: plt.cm.tab10(i % 10) for i, c in enumerate(categories)}
    ratios = [r["ratio"] for r in timed]
    # bars grow from 1 (parity): up where tvmprims is faster, down where it is slower
    ax.bar(range(len(timed)), [v - 1 for v in ratios], bottom=1, width=0.85,
           color=[colors[r["category"]] for r in timed])
    handles = [Patch(color=colors[c], label=c) for c in categories]
    wrong = [(i, r["ratio"]) for i, r in enumerate(timed) if r["status"] != "ok"]
    if wrong:
        handles.append(ax.scatter(*zip(*wrong), marker="x", color="red", s=40, zorder=3,
                                  label="WRONG result"))
    ax.axhline(1.0, color="black", lw=1)
    ax.set_yscale("log")
    ax.set_xticks([])
    ax.set_xlabel(f"{len(timed)} cases, sorted by ratio")
    ax.set_ylabel("reference time / tvmprims time (>1: tvmprims faster)")
    ax.set_title(title)
    if ratios:
        ax.set_ylim(min(0.8, min(ratios) / 1.3), max(1.25, max(ratios) * 1.3))
    ax.legend(handles=handles, fontsize=7, ncol=2)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _num(value, fmt):
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return "-" if missing else fmt.format(value)


def _users(row, shown=2):
    names = row["layers"].split()
    more = f" +{len(names) - shown}" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def summary_text(rows):
    """Plain-text per-category summary (what the command prints)."""
    lines = [f"{'category':<10}{'cases':>6}{'geomean':>9}{'worst':>8}  worst case"
             f"{'':<22}{'wrong':>6}{'failed':>7}"]
    for category, s in summarize(rows).items():
        lines.append(f"{category:<10}{s['cases']:>6}{_num(s['geomean'], '{:.2f}x'):>9}"
                     f"{_num(s['worst'], '{:.2f}x'):>8}  {s['worst_case']:<32}"
                     f"{s['wrong']:>6}{s['failed']:>7}")
    return "\n".join(lines)


def markdown(rows, machine="", command=""):
    """The summary per category and the per-case table, rows by category then ratio."""
    lines = []
    if machine:
        lines += [f"Machine: {machine}", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += ["| category | cases | geomean ratio | worst ratio | worst case | best ratio "
              "| wrong | failed |", "|---|---:|---:|---:|---|---:|---:|---:|"]
    for category, s in summarize(rows).items():
        name = "**all**" if category == "all" else category
        lines.append(f"| {name} | {s['cases']} | {_num(s['geomean'], '{:.2f}x')} | "
                     f"{_num(s['worst'], '{:.2f}x')} | {s['worst_case']} | "
                     f"{_num(s['best'], '{:.2f}x')} | {s['wrong']} | {s['failed']} |")
    lines += ["", "Geometric means and worst cases are over correct results only; wrong "
              "(relative error over tolerance) and failed cases are counted apart. "
              "Ratios marked * were below the bar in the first pass and measured again at the "
              "end of the run, each side keeping its best time.", "",
              "| category | case | used by | tvmprims ms | ref | ref ms | ratio | GFLOP/s "
              "| % roof | first call s | algorithm | rel. error | status |",
              "|---|---|---|---:|---|---:|---:|---:|---:|---:|---|---:|---|"]
    order = list(summarize(rows))
    ranked = sorted(rows, key=lambda r: (order.index(r["category"]),
                                         math.inf if r["ratio"] is None else r["ratio"]))
    for r in ranked:
        status = r["status"] if r["status"] == "ok" else f"**{r['status']}**"
        lines.append(
            f"| {r['category']} | {r['case']} | {_users(r) or '-'} | "
            f"{_num(r['tvmprims_s'] and r['tvmprims_s'] * 1e3, '{:.3f}')} | {r['reference']} | "
            f"{_num(r['ref_s'] and r['ref_s'] * 1e3, '{:.3f}')} | {_num(r['ratio'], '{:.2f}')}{'*' if r.get('retimed') else ''} | "
            f"{_num(r['gflops'], '{:.1f}')} | {_num(r['percent_of_roof'], '{:.0f}')} | "
            f"{_num(r['first_call_s'], '{:.2f}')} | {r['algorithm'] or '-'} | "
            f"{_num(r['rel_error'], '{:.1e}')} | {status} |")
    return "\n".join(lines)


def write_all(rows, out_dir, machine="", command="", stem="layer_suite"):
    """Write ``<stem>.csv``, ``<stem>.png`` and ``<stem>.md`` into ``out_dir``; returns the
    three paths."""
    import os
    os.makedirs(out_dir, exist_ok=True)
    paths = tuple(os.path.join(out_dir, f"{stem}.{ext}") for ext in ("csv", "png", "md"))
    write_csv(rows, paths[0])
    write_plot(rows, paths[1])
    with open(paths[2], "w") as f:
        f.write(markdown(rows, machine, command) + "\n")
    return paths
