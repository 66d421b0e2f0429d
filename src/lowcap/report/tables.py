"""Numbers the figures, summary and claims share, computed from the store alone."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lowcap.experiments.plan import ModelPlan
from lowcap.experiments.store import Store
from lowcap.report.statistics import meets_rule, min_capacity_bootstrap


@dataclass
class ModelCurves:
    """Per-model metric curves of a phase: (pair, hidden, lr) → metric → [seeds, epochs],
    and the seeds of those rows."""

    curves: dict[tuple[str, int, float], dict[str, np.ndarray]]
    seeds: dict[tuple[str, int, float], list[int]]

    def best(self, key: tuple[str, int, float], metric: str = "val_f1") -> np.ndarray:
        """Best value over epochs, per seed (NaN for diverged seeds)."""
        values = self.curves[key][metric]
        with np.errstate(all="ignore"):
            return np.where(np.isnan(values).all(1), np.nan, np.nanmax(
                np.where(np.isnan(values), -np.inf, values), axis=1))


def phase_curves(store: Store, plans: list[ModelPlan]) -> ModelCurves:
    """Load every epoch metric of the stored models among `plans`, grouped over seeds."""
    models = list(store.models([p.model_id for p in plans]).values())
    metrics = store.epoch_metrics([m["model_id"] for m in models])
    grouped: dict[tuple[str, int, float], list[list[dict]]] = defaultdict(list)
    seeds: dict[tuple[str, int, float], list[int]] = defaultdict(list)
    for model in sorted(models, key=lambda m: m["seed"]):
        key = (model["pair"], model["hidden"], model["lr"])
        grouped[key].append(metrics[model["model_id"]])
        seeds[key].append(model["seed"])
    curves = {}
    for key, runs in grouped.items():
        names = [k for k in runs[0][0] if k not in ("model_id", "epoch")]
        curves[key] = {
            name: np.array([[np.nan if r[name] is None else r[name] for r in run] for run in runs],
                           dtype=float)
            for name in names
        }
    return ModelCurves(curves, dict(seeds))


def capacity_table(curves: ModelCurves, min_f1: float, max_std: float) -> dict[str, dict]:
    """Per pair: best-F1 mean/std per width, final F1, the min-capacity rule's answer, and its
    distribution over seeds (bootstrap: `min_hidden_p`, `min_hidden_ci`).

    Min capacity = smallest width whose best validation F1 exceeds `min_f1` for every seed and
    whose seed std is below `max_std`. The bootstrap needs every width to have the same seeds;
    where they differ (a partly trained run) it is left out.
    """
    table: dict[str, dict] = defaultdict(lambda: {"f1_mean": {}, "f1_std": {},
                                                  "final_f1_mean": {}, "min_hidden": None,
                                                  "f1_by_seed": {}})
    seeds: dict[str, set[tuple[int, ...]]] = defaultdict(set)
    for (pair, hidden, _lr), _ in sorted(curves.curves.items(), key=lambda kv: kv[0][1]):
        best = curves.best((pair, hidden, _lr))
        final = curves.curves[(pair, hidden, _lr)]["val_f1"][:, -1]
        entry = table[pair]
        entry["f1_mean"][str(hidden)] = float(np.mean(best))
        entry["f1_std"][str(hidden)] = float(np.std(best))
        entry["final_f1_mean"][str(hidden)] = float(np.mean(final))
        entry["f1_by_seed"][str(hidden)] = [float(v) for v in best]
        seeds[pair].add(tuple(curves.seeds[(pair, hidden, _lr)]))
        if entry["min_hidden"] is None and meets_rule(best, min_f1, max_std):
            entry["min_hidden"] = hidden
    for pair, entry in table.items():
        if len(seeds[pair]) == 1:
            entry["seeds"] = list(next(iter(seeds[pair])))
            widths = [int(h) for h in entry["f1_by_seed"]]
            best = np.array(list(entry["f1_by_seed"].values()))
            boot = min_capacity_bootstrap(best, widths, min_f1, max_std)
            entry["min_hidden_p"], entry["min_hidden_ci"] = boot["p"], boot["ci"]
            entry["rule"] = {"min_f1": min_f1, "max_std": max_std}
    return dict(table)


def lr_grid_table(curves: ModelCurves) -> dict:
    """F1 per learning rate and width (mean best validation F1 over seeds) and the best lr."""
    f1: dict[str, dict[str, float]] = defaultdict(dict)
    for key in sorted(curves.curves, key=lambda k: (k[2], k[1])):
        _pair, hidden, lr = key
        f1[repr(lr)][str(hidden)] = float(np.mean(curves.best(key)))
    means = {lr: np.nanmean(list(v.values())) for lr, v in f1.items()}
    best_lr = max(means, key=lambda lr: means[lr]) if means else None
    pair = next(iter(curves.curves))[0] if curves.curves else None
    return {"pair": pair, "best_lr": float(best_lr) if best_lr else None, "f1": dict(f1)}


def map_leaves(section: Any, fn: Callable[[Any], Any]) -> Any:
    """A copy of a summary section (nested dicts and lists) with `fn` applied to each leaf."""
    if isinstance(section, dict):
        return {k: map_leaves(v, fn) for k, v in section.items()}
    if isinstance(section, list | tuple):
        return [map_leaves(v, fn) for v in section]
    return fn(section)
