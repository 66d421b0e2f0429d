"""Tables of the analyses (pruning, dead neurons, t-SNE), from the store alone."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from lowcap.experiments.plan import ModelPlan
from lowcap.experiments.store import Store


def _by_model(store: Store, analysis: str, plans: list[ModelPlan]) -> dict[str, list[dict]]:
    wanted = {p.model_id for p in plans}
    rows: dict[str, list[dict]] = defaultdict(list)
    for row in store.results(analysis):
        if row["model_id"] in wanted:
            rows[row["model_id"]].append(row)
    return rows


def pruning_table(store: Store, plans: list[ModelPlan], levels: list[float],
                  methods: list[str], metric: str = "val_f1") -> dict:
    """method → pair → width → level → {f1, f1_std, pct_change_f1, pct_change_std,
    achieved_sparsity}, means over seeds; % change is relative to each model's dense F1.
    Only the configured levels and methods count (the store may hold earlier ones)."""
    rows = _by_model(store, "pruning", plans)
    per: dict[tuple, list[tuple[float, float, float]]] = defaultdict(list)
    for plan in plans:
        results = rows.get(plan.model_id, [])
        values = {(r["params"]["method"], r["params"]["level"], r["metric"]): r["value"]
                  for r in results}
        dense = values.get(("dense", 0.0, metric))
        if dense is None:
            continue
        for (method, level, name), value in values.items():
            if name != metric or method not in methods or level not in levels:
                continue
            value = np.nan if value is None else value
            change = 100 * (value - dense) / dense if dense else np.nan
            sparsity = values.get((method, level, "achieved_sparsity")) or np.nan
            per[(method, plan.pair_key, plan.hidden, level)].append((value, change, sparsity))
    table: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for (method, pair, hidden, level), values in sorted(per.items()):
        arr = np.array(values, dtype=float)
        table[method][pair][str(hidden)][repr(level)] = {
            "f1": float(np.nanmean(arr[:, 0])), "f1_std": float(np.nanstd(arr[:, 0])),
            "pct_change_f1": float(np.nanmean(arr[:, 1])),
            "pct_change_std": float(np.nanstd(arr[:, 1])),
            "achieved_sparsity": float(np.nanmean(arr[:, 2])),
        }
    return {m: {p: dict(w) for p, w in pairs.items()} for m, pairs in table.items()}


def dead_neuron_rows(store: Store, plans: list[ModelPlan], level: float) -> list[dict]:
    """One row per model: pair, hidden, seed, dead units before and after pruning."""
    rows = _by_model(store, "dead_neurons", plans)
    out = []
    for plan in plans:
        counts = {r["params"]["level"]: r["value"] for r in rows.get(plan.model_id, [])}
        if 0.0 in counts and level in counts:
            out.append({"pair": plan.pair_key, "hidden": plan.hidden, "seed": plan.seed,
                        "before": int(counts[0.0]), "after_95": int(counts[level])})
    return out


def tsne_scores(store: Store, plans: list[ModelPlan], level: float
                ) -> dict[str, dict[str, float]]:
    """level (0 and `level`) → metric → value for the t-SNE model among `plans`."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for rows in _by_model(store, "tsne", plans).values():
        for row in rows:
            if row["params"]["level"] not in (0.0, level):
                continue
            out[repr(row["params"]["level"])][row["metric"]] = row["value"]
    return dict(out)


def robustness_table(store: Store, plans: list[ModelPlan], settings: set[tuple]) -> dict:
    """Test F1 under each corruption: corruption → parameter → width → [per-seed values],
    for the configured (corruption, parameter, severity) settings only."""
    hidden = {p.model_id: p.hidden for p in plans}
    table: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for rows in _by_model(store, "robustness", plans).values():
        for row in rows:
            p = row["params"]
            if (row["metric"] == "test_f1"
                    and (p["corruption"], p["parameter"], p["severity"]) in settings):
                key = p["severity"] if p["severity"] else p["parameter"]
                table[p["corruption"]][repr(key)][str(hidden[row["model_id"]])].append(
                    np.nan if row["value"] is None else row["value"])
    return {c: {k: dict(w) for k, w in params.items()} for c, params in table.items()}


def robustness_summary(table: dict, pair: str) -> dict:
    """The contract's robustness key: mean test F1 over seeds per width and σ / occlusion."""
    def mean(values: list[float]) -> float:
        return float(np.nanmean(values))

    out: dict = {"pair": pair, "split": "test",
                 "gaussian": defaultdict(dict), "occlusion": {}, "occlusion_std": {},
                 "mnist_c": defaultdict(lambda: defaultdict(dict))}
    for sigma, widths in table.get("gaussian", {}).items():
        for h, values in widths.items():
            out["gaussian"][h][sigma] = mean(values)
    for widths in table.get("occlusion", {}).values():
        for h, values in widths.items():
            out["occlusion"][h] = mean(values)
            out["occlusion_std"][h] = float(np.nanstd(values))
    for name, severities in table.items():
        if name in ("gaussian", "occlusion"):
            continue
        for severity, widths in severities.items():
            for h, values in widths.items():
                out["mnist_c"][name][h][severity] = mean(values)
    out["gaussian"] = dict(out["gaussian"])
    out["mnist_c"] = {k: dict(v) for k, v in out["mnist_c"].items()}
    return out


def saliency_scores(store: Store, plans: list[ModelPlan], level: float) -> dict:
    """pruning kind ('magnitude' | 'random') → metric → value, for the saliency model."""
    out: dict = defaultdict(dict)
    for rows in _by_model(store, "saliency", plans).values():
        for row in rows:
            if row["params"]["level"] != level:
                continue
            out[row["params"]["pruning"]][row["metric"]] = row["value"]
    return dict(out)
