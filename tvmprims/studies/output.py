"""Writing study results: CSV tables and matplotlib figures (no display needed)."""

import csv
from pathlib import Path

__all__ = ["write_csv", "new_figure", "save_figure"]


def write_csv(path, rows):
    """Write dict ``rows`` (same keys) to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def new_figure(ncols=1, width=6.4, height=4.2):
    """``(figure, axes)``: a bare :class:`matplotlib.figure.Figure`, outside pyplot.

    It needs no display and leaves pyplot's backend alone (a study run in a notebook must not
    switch the notebook's inline backend to Agg), and pyplot never shows or keeps it.
    """
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width * ncols, height))
    axes = fig.subplots(1, ncols, squeeze=False)
    return fig, list(axes[0])


def save_figure(fig, path):
    """Save ``fig`` (PNG through Agg, whatever pyplot's backend); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path
