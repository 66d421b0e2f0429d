"""The unit-information section: how much each hidden unit tells about the label, per width,
before and after pruning, and the answer to "do small networks have more specialised units?"
in words from the numbers."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from lowcap.report.html import table
from lowcap.report.plotting import new_figure, save_figure
from lowcap.report.tables import results_by_model
from lowcap.studies.base import ReportInput, Section
from lowcap.studies.selection import Selection

METRICS = ("mean_bits", "max_bits", "total_bits", "top_share", "spread")
STATES = ("dense", "pruned")


def _values(inp: ReportInput) -> list[tuple]:
    """(pair, width, state, {metric: value}) of every measured model."""
    spec = inp.cfg.unit_information
    plans = Selection(spec.select).plans(inp.cfg, inp.protocol)
    by_id = {p.model_id: p for p in plans}
    out = []
    for model_id, rows in results_by_model(inp.store, "unit_information", plans).items():
        plan = by_id[model_id]
        per_state: dict[str, dict[str, float]] = defaultdict(dict)
        for row in rows:
            if row["params"]["level"] == spec.level:
                value = row["value"]
                per_state[row["params"]["state"]][row["metric"]] = (
                    np.nan if value is None else value)
        out += [(plan.pair_key, plan.hidden, state, values)
                for state, values in per_state.items()]
    return out


def _means(values: list[dict]) -> dict[str, float]:
    with np.errstate(all="ignore"):
        return {m: float(np.nanmean([v.get(m, np.nan) for v in values])) for m in METRICS}


def summary(inp: ReportInput) -> dict:
    """Summary key `unit_information`: means per (pair, width) and per width (pooled), and the
    Spearman correlation of each dense metric with width over the models."""
    spec = inp.cfg.unit_information
    measured = _values(inp)
    cells: dict[str, dict] = defaultdict(lambda: defaultdict(dict))
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for pair, width, state, values in measured:
        grouped[(pair, width, state)].append(values)
        grouped[("all", width, state)].append(values)
    for (pair, width, state), values in grouped.items():
        if pair != "all":
            cells[pair][str(width)][state] = _means(values)
    by_width = {str(w): {s: _means(grouped[("all", w, s)]) for s in STATES
                         if grouped[("all", w, s)]}
                for w in sorted({w for _, w, _, _ in measured})}
    dense = [(w, v) for _, w, s, v in measured if s == "dense"]
    correlation = {}
    for metric in METRICS:
        pairs = [(w, v[metric]) for w, v in dense if np.isfinite(v.get(metric, np.nan))]
        if len({w for w, _ in pairs}) > 1:
            correlation[metric] = float(spearmanr(*zip(*pairs, strict=True)).statistic)
    return {"unit_information": {"bins": spec.bins, "level": spec.level,
                                 "cells": {p: dict(w) for p, w in cells.items()},
                                 "by_width": by_width, "width_spearman": correlation}}


def answer(result: dict) -> str:
    """'Do small networks have more specialised units?' answered from the numbers."""
    rho = result["width_spearman"]
    if "mean_bits" not in rho:
        return "Too few widths were measured to answer whether small networks specialise more."
    per_unit = ("more" if rho["mean_bits"] < 0 else "less")
    concentrated = ("more" if rho.get("top_share", 0) < 0 else "less")
    return (f"Units of smaller networks carry {per_unit} information about the label each "
            f"(Spearman ρ of mean bits per unit with width {rho['mean_bits']:+.2f} over the "
            f"dense models), and their information is {concentrated} concentrated in the best "
            f"unit (ρ of the top unit's share with width {rho.get('top_share', np.nan):+.2f}).")


def _figure(by_width: dict, folder: Path, protocol: str) -> Path | None:
    widths = [int(w) for w in by_width]
    if not widths:
        return None
    fig, axes = new_figure(3, 3.6, 2.8)
    for ax, metric, label in zip(axes, ("mean_bits", "top_share", "spread"),
                                 ("mean bits per unit", "top unit's share of the bits",
                                  "spread (normalised entropy)"), strict=True):
        for state, style in zip(STATES, ("-", "--"), strict=True):
            ax.plot(widths, [by_width[str(w)].get(state, {}).get(metric, np.nan)
                             for w in widths], style, marker="o", label=state)
        ax.set_xscale("log")
        ax.set_xlabel("width")
        ax.set_ylabel(label)
    axes[0].legend()
    return save_figure(fig, folder, f"figI1_unit_information_{protocol}")


def report(inp: ReportInput) -> Section:
    """The per-width table and figure, and the answer in words."""
    result = summary(inp)
    section = result["unit_information"]
    if not section["by_width"]:
        return Section()
    rows = [[w, *(s.get("dense", {}).get(m, np.nan) for m in ("mean_bits", "top_share")),
             *(s.get("pruned", {}).get(m, np.nan) for m in ("mean_bits", "top_share"))]
            for w, s in section["by_width"].items()]
    figure = _figure(section["by_width"], inp.figures, inp.protocol.name)
    html = (
        "<h3>Beyond §4.4: how much each unit tells about the label</h3><p>Mutual information "
        "between each hidden unit's activation and the label on the validation split (plug-in "
        f"estimate over {section['bins']} equal-width bins, in bits; at most 1 bit), dense and "
        f"after {section['level']:.0%} layerwise pruning, averaged over pairs and seeds. "
        f"{answer(section)}</p>"
        + table(["width", "dense: mean bits / unit", "dense: top unit's share",
                 "pruned: mean bits / unit", "pruned: top unit's share"], rows))
    return Section(result, [figure] if figure else [], html)
