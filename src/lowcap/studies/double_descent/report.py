"""The double-descent section: test and training error against width and against
parameters / n, per label noise and training size, with seed bands; and whether test error
peaks near the interpolation threshold."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from lowcap.report.html import table
from lowcap.report.plotting import band, new_figure, save_figure
from lowcap.report.tables import results_by_model
from lowcap.studies.base import ReportInput, Section, section
from lowcap.studies.double_descent.config import DoubleDescentConfig, plans


def summary(inp: ReportInput) -> dict:
    """Summary key `double_descent`: per dataset, pair, label noise, n and width, the
    parameter count, and train and test error per seed and as means over seeds."""
    spec = section(inp.cfg, DoubleDescentConfig)
    grid = plans(inp.cfg, inp.protocol)
    if spec is None or not grid:
        return {}
    by_id = {p.model_id: p for p in grid}
    cells: dict = defaultdict(dict)
    for model_id, rows in results_by_model(inp.store, "double_descent", grid).items():
        plan = by_id[model_id]
        by_width = (cells[plan.hp.dataset].setdefault(plan.pair_key, {})
                    .setdefault(f"{plan.hp.label_noise:g}", {})
                    .setdefault(str(plan.hp.train_size), {}))
        entry = by_width.setdefault(str(plan.hidden), {"train_error_by_seed": {},
                                                       "test_error_by_seed": {}})
        for row in rows:
            if row["metric"] == "parameters":
                entry["parameters"] = row["value"]
            else:
                entry[f"{row['metric']}_by_seed"][str(plan.seed)] = row["value"]
    for _, by_noise in pair_cells(cells):
        for by_width in (w for by_n in by_noise.values() for w in by_n.values()):
            for entry in by_width.values():
                for kind in ("train_error", "test_error"):
                    values = [v for v in entry[f"{kind}_by_seed"].values() if v is not None]
                    entry[kind] = float(np.mean(values)) if values else None
    ordered = {dataset: {pair: {noise: {n: dict(sorted(widths.items(), key=lambda kv: int(kv[0])))
                                        for n, widths in by_n.items()}
                                for noise, by_n in by_noise.items()}
                         for pair, by_noise in by_pair.items()}
               for dataset, by_pair in cells.items()}
    return {"double_descent": {"datasets": spec.datasets, "epochs": spec.epochs,
                               "min_effect": spec.min_effect, "cells": ordered}}


def _figure(result: dict, folder: Path, protocol: str) -> Path:
    tasks = pair_cells(result["cells"])
    noises = sorted({noise for _, by_noise in tasks for noise in by_noise}, key=float)
    fig, axes = new_figure(len(noises), 4.2, 3.2)
    for ax, noise in zip(axes, noises, strict=True):
        shown: list[float] = []
        for task, by_noise in tasks:
            for n, by_width in by_noise.get(noise, {}).items():
                widths = list(by_width)
                ratio = np.array([by_width[w]["parameters"] / int(n) for w in widths])
                shown += list(ratio)
                seeds = sorted({s for w in widths for s in by_width[w]["test_error_by_seed"]})
                for kind, style in (("test_error", "-"), ("train_error", ":")):
                    runs = np.array([[by_width[w][f"{kind}_by_seed"].get(s)
                                      for w in widths] for s in seeds], dtype=float)
                    if kind == "test_error":
                        band(ax, ratio, runs, f"{task}, n={n}: test")
                    else:
                        ax.plot(ratio, np.nanmean(runs, axis=0), style, color="grey",
                                label=f"{task}, n={n}: train")
        ax.axvline(1.0, color="black", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.minorticks_off()  # the minor ticks' labels of a short log range overlap
        ticks = [2.0**k for k in range(-6, 12) if min(shown) <= 2.0**k <= max(shown)]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.set_xlabel("parameters / training samples")
        ax.set_ylabel("0-1 error")
        ax.set_title(f"label noise {noise}")
        ax.legend(fontsize=6)
    return save_figure(fig, folder, f"figD1_double_descent_{protocol}")


def pair_cells(cells: dict) -> list[tuple[str, dict]]:
    """("dataset pair", {noise: {n: {width: entry}}}) for every dataset and pair."""
    return [(f"{dataset} {pair}", by_noise) for dataset, by_pair in cells.items()
            for pair, by_noise in by_pair.items()]


def report(inp: ReportInput) -> Section:
    """The summary key, the figure, and a table of test error by width."""
    result = summary(inp)
    if not result or not result["double_descent"]["cells"]:
        return Section(result)
    section_ = result["double_descent"]
    rows = [[task, noise, n, int(w), f"{entry['parameters'] / int(n):.2f}",
             *(f"{entry[k]:.3f}" if entry.get(k) is not None else "—"
               for k in ("train_error", "test_error"))]
            for task, by_noise in pair_cells(section_["cells"])
            for noise, by_n in by_noise.items() for n, by_width in by_n.items()
            for w, entry in by_width.items()]
    html = (
        "<h3>Beyond §4.2: model-wise double descent</h3><p>Models of every width trained by "
        f"full-batch Adam for {section_['epochs']} epochs on n samples of "
        f"{', '.join(section_['datasets'])}, a fraction of their training labels flipped; "
        "0-1 error on those labels (0: the model interpolates them) and on the test split, "
        "means over seeds. Nakkiran et al. (2019): under label noise, test error peaks where the "
        "parameters reach about n and falls again beyond.</p>"
        + table(["dataset and pair", "label noise", "n", "width", "parameters / n", "train error",
                 "test error"], rows))
    return Section(result, [_figure(section_, inp.figures, inp.protocol.name)], html)
