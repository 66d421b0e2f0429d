"""The Novak-scale study's statistics: how well each measure ranks models by generalization
gap, pooled, within each level of each factor, and per hyper-parameter axis.

- Spearman's ρ with a 95% percentile bootstrap interval over models, and Kendall's τ.
- Jiang et al. (2020)'s granulated Kendall coefficient ψ_i of axis i: the models are grouped
  by every other axis (and dataset, pair and seed); within each group, where only axis i
  varies, Kendall's τ between measure and gap; ψ_i is its mean over groups, and Ψ the mean of
  ψ_i over the axes.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from scipy.stats import kendalltau, spearmanr

from lowcap.studies.sensitivity.report import correlation_ci

MEASURES = {"jac_test": "test-point Jacobian norm", "transitions": "transitions along ellipses"}
GAP = "gap_acc"  # train accuracy − test accuracy
# Hyper-parameter axes of the granulated coefficient (the dataset is the task, not an axis).
AXES = ("depth", "width", "optimiser", "batch_size", "augment", "labels")


def _rank_stats(x: np.ndarray, y: np.ndarray, bootstrap: int, seed: int) -> dict:
    """ρ, its interval, τ and n of one set of models (NaN where fewer than 3 or constant)."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"n": len(x), "spearman": None, "spearman_ci": [None, None],
                "kendall": None}
    return {"n": len(x), "spearman": float(spearmanr(x, y)[0]),
            "spearman_ci": correlation_ci(x, y, True, bootstrap, seed),
            "kendall": float(kendalltau(x, y)[0])}


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's τ-b of each row of x and y [groups, k] (scipy's `kendalltau` per row, at once:
    the groups are many and small); NaN where a row of x or y is constant."""
    dx = np.sign(x[:, :, None] - x[:, None, :])
    dy = np.sign(y[:, :, None] - y[:, None, :])
    upper = np.triu(np.ones(x.shape[1], dtype=bool), 1)
    concordance = (dx * dy)[:, upper].sum(1)
    untied_x, untied_y = (dx != 0)[:, upper].sum(1), (dy != 0)[:, upper].sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return concordance / np.sqrt(untied_x * untied_y)


def granulated_tau(models: list[dict], measure: str, axis: str) -> float | None:
    """ψ of `axis`: mean Kendall τ(measure, gap) over groups of models that differ only in it
    (groups of one model, or where the measure or the gap is constant, have no τ)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for m in models:
        key = tuple(m["factors"][a] for a in ("dataset", "pair", "seed", *AXES) if a != axis)
        groups[key].append(m)
    by_size: dict[int, list[list[dict]]] = defaultdict(list)
    for members in groups.values():
        by_size[len(members)].append(members)
    taus = [kendall_tau_b(np.array([[m[measure] for m in g] for g in same], dtype=float),
                          np.array([[m[GAP] for m in g] for g in same], dtype=float))
            for size, same in by_size.items() if size > 1]
    values = np.concatenate(taus) if taus else np.array([])
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else None


def scale_statistics(models: list[dict], bootstrap: int, seed: int) -> dict:
    """Per measure: pooled, per factor level, and granulated statistics of `models` (dicts of
    metrics with `factors`)."""
    out = {}
    y = np.array([m[GAP] for m in models], dtype=float)
    for measure in MEASURES:
        x = np.array([m[measure] for m in models], dtype=float)
        factors: dict[str, dict] = {}
        for factor in ("dataset", *AXES):
            levels = sorted({str(m["factors"][factor]) for m in models})
            factors[factor] = {}
            for level in levels:
                take = np.array([str(m["factors"][factor]) == level for m in models])
                factors[factor][level] = _rank_stats(x[take], y[take], bootstrap, seed)
        granulated = {axis: granulated_tau(models, measure, axis) for axis in AXES}
        known = [v for v in granulated.values() if v is not None]
        out[measure] = {"pooled": _rank_stats(x, y, bootstrap, seed), "factors": factors,
                        "granulated_tau": granulated,
                        "granulated_tau_overall": float(np.mean(known)) if known else None}
    return out
