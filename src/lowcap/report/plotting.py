"""Shared matplotlib plumbing: headless backend, atomic PNG + SVG output (rendered in worker
processes inside `figure_workers`, and only where the figure changed), seed bands."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import multiprocessing
import os
import pickle
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lowcap import __version__
from lowcap.atomic import atomic_path, atomic_write_text
from lowcap.concurrency import die_with_parent

# In a run's figures folder: each figure's fingerprint and its files' sizes and times when
# lowcap drew them, so that a rebuilt report draws only the figures whose content changed.
RENDERED = "rendered.json"

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@functools.cache
def pyplot():
    """matplotlib's pyplot on the headless backend, imported at the first figure: a process
    that draws nothing (a training command, `--no-report`) never loads matplotlib, which is
    a tenth of lowcap's start-up."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def new_figure(ncols: int = 1, width: float = 6.0, height: float = 4.0, nrows: int = 1):
    """A figure with `nrows` × `ncols` axes (each `width` × `height` inches), as a flat list in
    reading order."""
    fig, axes = pyplot().subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                             squeeze=False)
    return fig, list(axes.flat)


_pool: ProcessPoolExecutor | None = None
_pending: list[Future] = []
_drawn: list[tuple[Path, str, str]] = []  # (folder, name, fingerprint) drawn, not yet recorded
_drawing: ContextVar[bool] = ContextVar("drawing", default=True)


@contextmanager
def figures_not_drawn() -> Iterator[None]:
    """Inside the block, `save_figure` only closes each figure: it draws and writes nothing
    (a report's numbers without its pictures)."""
    token = _drawing.set(False)
    try:
        yield
    finally:
        _drawing.reset(token)


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
            _record_drawn()
        finally:
            _pool = None
            _pending.clear()
            _drawn.clear()


def save_figure(fig: Figure, folder: Path, name: str) -> Path:
    """Write `name`.png and `name`.svg atomically (in a worker inside `figure_workers`), unless
    both files are what lowcap drew for a figure of the same content, or the call is inside
    `figures_not_drawn`; returns the PNG path."""
    if _drawing.get():
        key = fingerprint(fig)
        on_disk = _entry(folder, name, key)
        if on_disk is None or _recorded(folder).get(name) != on_disk:
            if _pool is None:
                _render(fig, folder, name)
                _drawn.append((folder, name, key))
                _record_drawn()
            else:
                _pending.append(_pool.submit(_render_pickled, pickle.dumps(fig), folder, name))
                _drawn.append((folder, name, key))
    pyplot().close(fig)
    return folder / f"{name}.png"


class _ContentPickler(pickle.Pickler):
    """Pickles a figure without what differs between two builds of the same figure: its
    transforms' back-references (dicts keyed by object ids) and its pyplot number (how many
    figures the process made before it)."""

    def __init__(self, file: io.BytesIO):
        from matplotlib.figure import Figure
        from matplotlib.transforms import TransformNode

        super().__init__(file, protocol=5)
        self._dropped = ((TransformNode, ("_parents",)),
                         (Figure, ("_number", "_restore_to_pylab")))

    def reducer_override(self, obj):
        drop = next((keys for kind, keys in self._dropped if isinstance(obj, kind)), None)
        if drop is None:
            return NotImplemented
        state = obj.__getstate__()
        for key in drop:
            state.pop(key, None)
        return object.__new__, (type(obj),), state


def fingerprint(fig: Figure) -> str:
    """A hash of everything a figure draws (and of the lowcap and matplotlib that draw it)."""
    buffer = io.BytesIO()
    _ContentPickler(buffer).dump(fig)
    from matplotlib import __version__ as matplotlib_version

    versions = f"{__version__} {matplotlib_version}".encode()
    return hashlib.sha256(versions + buffer.getvalue()).hexdigest()[:32]


def _entry(folder: Path, name: str, key: str) -> dict | None:
    """What the record holds for a figure whose files are on disk (None: one is missing)."""
    try:
        stats = [(folder / f"{name}.{ext}").stat() for ext in ("png", "svg")]
    except OSError:
        return None
    return {"fingerprint": key, "files": [[s.st_size, s.st_mtime_ns] for s in stats]}


def _recorded(folder: Path) -> dict:
    """The figures folder's record of what lowcap drew ({} where it has none or cannot read
    it: everything is drawn again)."""
    try:
        record = json.loads((folder / RENDERED).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _record_drawn() -> None:
    """Add the figures drawn since the last call to their folders' records."""
    for folder in {folder for folder, _, _ in _drawn}:
        record = _recorded(folder)
        record.update({name: _entry(folder, name, key) for where, name, key in _drawn
                       if where == folder})
        atomic_write_text(folder / RENDERED, json.dumps(record, indent=0, sort_keys=True))
    _drawn.clear()


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
    plt = pyplot()  # the headless backend before the figure is rebuilt
    fig = pickle.loads(blob)
    _render(fig, folder, name)
    plt.close(fig)


def width_axis(ax, widths: list[int]) -> None:
    """A log₂ x axis labelled with the widths themselves (no overlapping minor labels)."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(widths, [str(w) for w in widths])
    ax.minorticks_off()
    ax.set_xlabel("width")


def band(ax, x, runs: np.ndarray, label: str, color=None) -> None:
    """Mean line over rows of `runs` with a ±1 std band (NaN rows, e.g. diverged, ignored)."""
    with np.errstate(all="ignore"):
        mean = np.nanmean(runs, axis=0)
        std = np.nanstd(runs, axis=0)
    line, = ax.plot(x, mean, label=label, color=color)
    ax.fill_between(x, mean - std, mean + std, alpha=0.2, color=line.get_color())
