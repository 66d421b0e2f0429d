"""The calibration section: ECE and Brier score per width, dense and pruned, the pooled
reliability diagram per width, and whether wider models are worse calibrated."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from lowcap.report.html import table
from lowcap.report.plotting import new_figure, save_figure, width_axis
from lowcap.report.tables import results_by_model
from lowcap.studies.base import ReportInput, Section
from lowcap.studies.calibration.compute import STATES
from lowcap.studies.selection import Selection

SCORES = ("ece", "ece_equal_mass", "brier")


def _measured(inp: ReportInput) -> tuple[list[tuple], dict]:
    """(pair, width, seed, state, {score: value}) of every measured model, and the pooled
    reliability bins: (width, state) → bin → [count, Σ count·confidence, Σ count·frequency]."""
    spec = inp.cfg.calibration
    plans = Selection(spec.select).plans(inp.cfg, inp.protocol)
    by_id = {p.model_id: p for p in plans}
    scores, pooled = [], defaultdict(lambda: defaultdict(lambda: np.zeros(3)))
    for model_id, rows in results_by_model(inp.store, "calibration", plans).items():
        plan = by_id[model_id]
        per_state: dict[str, dict] = defaultdict(dict)
        bins: dict[tuple, dict] = defaultdict(dict)
        for row in rows:
            params = row["params"]
            if params["level"] != spec.level:
                continue
            value = np.nan if row["value"] is None else row["value"]
            if "bin" in params:
                bins[(params["state"], params["bin"])][row["metric"]] = value
            else:
                per_state[params["state"]][row["metric"]] = value
        scores += [(plan.pair_key, plan.hidden, plan.seed, state, values)
                   for state, values in per_state.items()]
        for (state, b), v in bins.items():
            n = v["bin_count"]
            pooled[(plan.hidden, state)][b] += (n, n * v["bin_confidence"],
                                                n * v["bin_frequency"])
    return scores, pooled


def _mean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def summary(inp: ReportInput) -> dict:
    """Summary key `calibration`: the dense ECE per (pair, width, seed), which the claim
    reads; the scores' means per width and state; the reliability diagram per width and
    state, pooled over the models (each bin's mean probability, positive frequency and share
    of the predictions)."""
    spec = inp.cfg.calibration
    scores, pooled = _measured(inp)
    by_seed: dict[str, dict] = defaultdict(lambda: defaultdict(dict))
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for pair, width, seed, state, values in scores:
        grouped[(width, state)].append(values)
        if state == "dense":
            by_seed[pair][str(width)][str(seed)] = values.get("ece", np.nan)
    by_width = {str(w): {s: {m: _mean([v.get(m, np.nan) for v in grouped[(w, s)]])
                             for m in SCORES} for s in STATES if grouped[(w, s)]}
                for w in sorted({w for w, _ in grouped})}
    diagram = {}
    for (width, state), bins in sorted(pooled.items()):
        order = sorted(bins)
        totals = np.array([bins[b] for b in order])
        diagram.setdefault(str(width), {})[state] = {
            "bin": order, "confidence": (totals[:, 1] / totals[:, 0]).tolist(),
            "frequency": (totals[:, 2] / totals[:, 0]).tolist(),
            "share": (totals[:, 0] / totals[:, 0].sum()).tolist()}
    return {"calibration": {"bins": spec.bins, "level": spec.level,
                            "min_effect": spec.min_effect,
                            "ece_by_seed": {p: dict(w) for p, w in by_seed.items()},
                            "by_width": by_width, "reliability": diagram}}


def _figure(section: dict, folder: Path, protocol: str) -> Path | None:
    widths = [int(w) for w in section["by_width"]]
    if not widths:
        return None
    fig, (scores, diagram) = new_figure(2, 4.2, 3.4)
    for state, style in zip(STATES, ("-", "--"), strict=True):
        for metric, marker in (("ece", "o"), ("brier", "s")):
            scores.plot(widths, [section["by_width"][str(w)].get(state, {}).get(metric, np.nan)
                                 for w in widths], style, marker=marker,
                        label=f"{metric.upper() if metric == 'ece' else 'Brier'}, {state}")
    width_axis(scores, widths)
    scores.set_ylabel("test-set score (lower is better)")
    scores.legend(fontsize=7)
    diagram.plot([0, 1], [0, 1], color="grey", lw=0.8, label="calibrated")
    for width in widths:
        dense = section["reliability"].get(str(width), {}).get("dense")
        if dense:
            diagram.plot(dense["confidence"], dense["frequency"], marker=".", label=f"h={width}")
    diagram.set_xlabel("mean predicted probability (bin)")
    diagram.set_ylabel("positive frequency (bin)")
    diagram.legend(fontsize=7)
    return save_figure(fig, folder, f"figK1_calibration_{protocol}")


def report(inp: ReportInput) -> Section:
    """The per-width table, the figure, and the summary key."""
    result = summary(inp)
    section = result["calibration"]
    if not section["by_width"]:
        return Section()
    rows = [[w, *(s.get("dense", {}).get(m, np.nan) for m in SCORES),
             s.get("pruned", {}).get("ece", np.nan)] for w, s in section["by_width"].items()]
    figure = _figure(section, inp.figures, inp.protocol.name)
    html = (
        "<h3>Beyond §4.3: calibration by width</h3><p>How well each model's predicted "
        "probability of the positive digit matches how often it is right, on the test split: "
        f"expected calibration error over {section['bins']} equal-width bins (ECE) and as many "
        "equal-mass bins, and the Brier score, averaged over pairs and seeds; dense and after "
        f"{section['level']:.0%} layerwise pruning. Guo et al. (2017) found larger networks "
        "worse calibrated; the claims check tests it here.</p>"
        + table(["width", "dense: ECE", "dense: ECE (equal mass)", "dense: Brier",
                 "pruned: ECE"], rows))
    return Section(result, [figure] if figure else [], html)
