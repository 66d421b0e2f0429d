"""Numbers every study's report reads from the store alone: training curves and result rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lowcap.run.plan import ModelPlan
from lowcap.run.store import Store


@dataclass
class ModelCurves:
    """Per-model metric curves of a set of models: (pair, hidden, lr) → metric → [seeds, epochs],
    and the seeds of those rows."""

    curves: dict[tuple[str, int, float], dict[str, np.ndarray]]
    seeds: dict[tuple[str, int, float], list[int]]

    def best(self, key: tuple[str, int, float], metric: str = "val_f1") -> np.ndarray:
        """Best value over epochs, per seed (NaN for diverged seeds)."""
        values = self.curves[key][metric]
        with np.errstate(all="ignore"):
            return np.where(np.isnan(values).all(1), np.nan, np.nanmax(
                np.where(np.isnan(values), -np.inf, values), axis=1))


def model_curves(store: Store, plans: list[ModelPlan]) -> ModelCurves:
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


def results_by_model(store: Store, analysis: str, plans: list[ModelPlan]
                     ) -> dict[str, list[dict]]:
    """An analysis's stored result rows of the models among `plans`, by model id."""
    wanted = {p.model_id for p in plans}
    rows: dict[str, list[dict]] = defaultdict(list)
    for row in store.results(analysis):
        if row["model_id"] in wanted:
            rows[row["model_id"]].append(row)
    return rows


def map_leaves(section: Any, fn: Callable[[Any], Any]) -> Any:
    """A copy of a summary section (nested dicts and lists) with `fn` applied to each leaf."""
    if isinstance(section, dict):
        return {k: map_leaves(v, fn) for k, v in section.items()}
    if isinstance(section, list | tuple):
        return [map_leaves(v, fn) for v in section]
    return fn(section)
