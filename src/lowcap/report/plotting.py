"""Shared matplotlib plumbing: headless backend, atomic PNG + SVG output, seed bands."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from lowcap.atomic import atomic_path


def new_figure(ncols: int = 1, width: float = 6.0, height: float = 4.0):
    """A figure with `ncols` axes side by side."""
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, list(axes[0])


def save_figure(fig: Figure, folder: Path, name: str) -> Path:
    """Write `name`.png and `name`.svg atomically; returns the PNG path."""
    fig.tight_layout()
    for ext in ("png", "svg"):
        with atomic_path(folder / f"{name}.{ext}") as tmp:
            fig.savefig(tmp, format=ext, dpi=110)
    plt.close(fig)
    return folder / f"{name}.png"


def band(ax, x, runs: np.ndarray, label: str, color=None) -> None:
    """Mean line over rows of `runs` with a ±1 std band (NaN rows, e.g. diverged, ignored)."""
    with np.errstate(all="ignore"):
        mean = np.nanmean(runs, axis=0)
        std = np.nanstd(runs, axis=0)
    line, = ax.plot(x, mean, label=label, color=color)
    ax.fill_between(x, mean - std, mean + std, alpha=0.2, color=line.get_color())
