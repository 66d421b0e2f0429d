"""Shared matplotlib plumbing: headless backend, atomic PNG + SVG output (rendered in worker
processes inside `figure_workers`), seed bands."""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from lowcap.atomic import atomic_path
from lowcap.concurrency import die_with_parent


def new_figure(ncols: int = 1, width: float = 6.0, height: float = 4.0, nrows: int = 1):
    """A figure with `nrows` × `ncols` axes (each `width` × `height` inches), as a flat list in
    reading order."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                             squeeze=False)
    return fig, list(axes.flat)


_pool: ProcessPoolExecutor | None = None
_pending: list[Future] = []


@contextmanager
def figure_workers(processes: int | None = None) -> Iterator[None]:
    """Inside the block, `save_figure` hands figures to worker processes (one per CPU, at most
    4), so rendering overlaps the building of the next figure; on exit it waits for every
    write and re-raises the first failure (e.g. a WriteError). The workers die with this
    process, however it ends (kill -9 included)."""
    global _pool
    processes = processes or min(4, os.cpu_count() or 1)
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"),
                             initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        _pool = pool
        try:
            yield
            for future in _pending:
                future.result()
        finally:
            _pool = None
            _pending.clear()


def save_figure(fig: Figure, folder: Path, name: str) -> Path:
    """Write `name`.png and `name`.svg atomically (in a worker inside `figure_workers`);
    returns the PNG path."""
    if _pool is None:
        _render(fig, folder, name)
    else:
        _pending.append(_pool.submit(_render_pickled, pickle.dumps(fig), folder, name))
    plt.close(fig)
    return folder / f"{name}.png"


def _linear_where_nothing_is_positive(fig: Figure) -> None:
    """A log axis with no positive finite data (every model diverged) cannot be drawn: such
    an axis becomes linear, and the panel shows that nothing is there."""
    for ax in fig.axes:
        limits = ax.dataLim
        if ax.get_xscale() == "log" and not np.isfinite(limits.minposx):
            ax.set_xscale("linear")
        if ax.get_yscale() == "log" and not np.isfinite(limits.minposy):
            ax.set_yscale("linear")


def _render(fig: Figure, folder: Path, name: str) -> None:
    _linear_where_nothing_is_positive(fig)
    fig.tight_layout()
    for ext in ("png", "svg"):
        with atomic_path(folder / f"{name}.{ext}") as tmp:
            fig.savefig(tmp, format=ext, dpi=110)


def _render_pickled(blob: bytes, folder: Path, name: str) -> None:
    fig = pickle.loads(blob)
    _render(fig, folder, name)
    plt.close(fig)


def band(ax, x, runs: np.ndarray, label: str, color=None) -> None:
    """Mean line over rows of `runs` with a ±1 std band (NaN rows, e.g. diverged, ignored)."""
    with np.errstate(all="ignore"):
        mean = np.nanmean(runs, axis=0)
        std = np.nanstd(runs, axis=0)
    line, = ax.plot(x, mean, label=label, color=color)
    ax.fill_between(x, mean - std, mean + std, alpha=0.2, color=line.get_color())
