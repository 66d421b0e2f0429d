"""Tables of the analyses (pruning, dead neurons, t-SNE, robustness, saliency), from the
store alone."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from lowcap.experiments.checkpoints import load_tensors
from lowcap.experiments.plan import ModelPlan
from lowcap.experiments.store import Store
from lowcap.report.statistics import bootstrap_mean_ci


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
    achieved_sparsity, pct_change_by_seed}, means over seeds (and each seed's own % change,
    keyed by seed); % change is relative to each model's dense F1.
    Only the configured levels and methods count (the store may hold earlier ones)."""
    rows = _by_model(store, "pruning", plans)
    per: dict[tuple, list[tuple[float, float, float, int]]] = defaultdict(list)
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
            per[(method, plan.pair_key, plan.hidden, level)].append(
                (value, change, sparsity, plan.seed))
    table: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for (method, pair, hidden, level), values in sorted(per.items()):
        arr = np.array(values, dtype=float)
        table[method][pair][str(hidden)][repr(level)] = {
            "f1": float(np.nanmean(arr[:, 0])), "f1_std": float(np.nanstd(arr[:, 0])),
            "pct_change_f1": float(np.nanmean(arr[:, 1])),
            "pct_change_std": float(np.nanstd(arr[:, 1])),
            "achieved_sparsity": float(np.nanmean(arr[:, 2])),
            "pct_change_by_seed": {str(int(seed)): float(change)
                                   for _, change, _, seed in values},
        }
    return {m: {p: dict(w) for p, w in pairs.items()} for m, pairs in table.items()}


def dead_neuron_rows(store: Store, plans: list[ModelPlan], level: float) -> list[dict]:
    """One row per model: pair, hidden, seed, dead units before and after pruning, and (runs
    since lowcap counted them) disconnected and live units before and after."""
    rows = _by_model(store, "dead_neurons", plans)
    out = []
    for plan in plans:
        counts = {(r["params"]["level"], r["metric"]): r["value"]
                  for r in rows.get(plan.model_id, [])}
        if (0.0, "dead") not in counts or (level, "dead") not in counts:
            continue
        row = {"pair": plan.pair_key, "hidden": plan.hidden, "seed": plan.seed,
               "before": int(counts[(0.0, "dead")]), "after_95": int(counts[(level, "dead")])}
        for metric in ("disconnected", "live"):
            for when, lvl in (("before", 0.0), ("after", level)):
                if (lvl, metric) in counts:
                    row[f"{metric}_{when}"] = int(counts[(lvl, metric)])
        out.append(row)
    return out


def tsne_scores(store: Store, plans: list[ModelPlan], level: float
                ) -> dict[str, dict[str, float]]:
    """'<level>' (0 and `level`; '<level>_live' for the pruned model's live units alone) →
    metric → value, for the t-SNE model among `plans`."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for rows in _by_model(store, "tsne", plans).values():
        for row in rows:
            if row["params"]["level"] not in (0.0, level):
                continue
            live = "_live" if row["params"].get("units") == "live" else ""
            out[repr(row["params"]["level"]) + live][row["metric"]] = row["value"]
    return dict(out)


def robustness_table(store: Store, plans: list[ModelPlan], settings: set[tuple]) -> dict:
    """Test F1 under each corruption: corruption → parameter → width → seed → value, for the
    configured (corruption, parameter, severity) settings only."""
    hidden = {p.model_id: p.hidden for p in plans}
    seed = {p.model_id: str(p.seed) for p in plans}
    table: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for rows in _by_model(store, "robustness", plans).values():
        for row in rows:
            p = row["params"]
            if (row["metric"] == "test_f1"
                    and (p["corruption"], p["parameter"], p["severity"]) in settings):
                key = p["severity"] if p["severity"] else p["parameter"]
                table[p["corruption"]][repr(key)][str(hidden[row["model_id"]])][
                    seed[row["model_id"]]] = np.nan if row["value"] is None else row["value"]
    return {c: {k: dict(w) for k, w in params.items()} for c, params in table.items()}


def robustness_summary(table: dict, pair: str) -> dict:
    """The contract's robustness key: mean test F1 over seeds per width and σ / occlusion, and
    each seed's own value (`gaussian_by_seed`, `occlusion_by_seed`: the claims pair widths by
    seed)."""
    def mean(values: dict[str, float]) -> float:
        return float(np.nanmean(list(values.values())))

    out: dict = {"pair": pair, "split": "test",
                 "gaussian": defaultdict(dict), "occlusion": {}, "occlusion_std": {},
                 "gaussian_by_seed": defaultdict(dict), "occlusion_by_seed": {},
                 "mnist_c": defaultdict(lambda: defaultdict(dict))}
    for sigma, widths in table.get("gaussian", {}).items():
        for h, values in widths.items():
            out["gaussian"][h][sigma] = mean(values)
            out["gaussian_by_seed"][h][sigma] = values
    for widths in table.get("occlusion", {}).values():
        for h, values in widths.items():
            out["occlusion"][h] = mean(values)
            out["occlusion_std"][h] = float(np.nanstd(list(values.values())))
            out["occlusion_by_seed"][h] = values
    for name, severities in table.items():
        if name in ("gaussian", "occlusion"):
            continue
        for severity, widths in severities.items():
            for h, values in widths.items():
                out["mnist_c"][name][h][severity] = mean(values)
    out["gaussian"] = dict(out["gaussian"])
    out["gaussian_by_seed"] = dict(out["gaussian_by_seed"])
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


def saliency_intervals(source: Path) -> dict:
    """From the saliency phase's per-image agreement (undefined maps counted as 0): the 95%
    bootstrap interval over images of the magnitude-pruned model's mean Spearman and of its
    paired difference from random pruning ({} for runs that did not store them)."""
    arrays = load_tensors(source) if source.is_file() else {}
    if "spearman_magnitude" not in arrays:
        return {}
    magnitude = np.nan_to_num(arrays["spearman_magnitude"].numpy())
    random = np.nan_to_num(arrays["spearman_random"].numpy())
    return {"spearman_undefined_as_zero_ci": list(bootstrap_mean_ci(magnitude)),
            "minus_random_ci": list(bootstrap_mean_ci(magnitude - random)),
            "images": len(magnitude)}


def tsne_intervals(source: Path, level: float) -> dict:
    """Per-point 10-NN label agreement in the 2-D embeddings (leave-one-out): means, and the
    95% bootstrap interval over points of pruned − dense (paired: the same points), for all
    units and for the pruned model's live units ({} for runs that did not store them)."""
    arrays = load_tensors(source) if source.is_file() else {}
    dense_key = "agreement_0.0"
    if dense_key not in arrays:
        return {}
    dense = arrays[dense_key].numpy()
    out: dict = {"dense": float(np.mean(dense)), "points": len(dense)}
    for name, key in (("pruned", f"agreement_{level}"), ("pruned_live", f"agreement_{level}_live")):
        if key in arrays:
            values = arrays[key].numpy()
            out[name] = float(np.mean(values))
            out[f"{name}_minus_dense_ci"] = list(bootstrap_mean_ci(values - dense))
    return out


def rounding_spread(by_method: dict) -> dict:
    """Where int(s·n) and round(s·n) disagree most: the largest |% change in F1| difference
    between `layerwise` and `layerwise_nearest` for one model, and where ({} unless both ran)."""
    floor, nearest = by_method.get("layerwise", {}), by_method.get("layerwise_nearest", {})
    worst: dict = {}
    for pair, widths in floor.items():
        for h, levels in widths.items():
            for level, entry in levels.items():
                other = nearest.get(pair, {}).get(h, {}).get(level, {})
                for seed, change in entry.get("pct_change_by_seed", {}).items():
                    gap = abs(change - other.get("pct_change_by_seed", {}).get(seed, change))
                    if np.isfinite(gap) and gap > worst.get("max_pct_points", -1):
                        worst = {"max_pct_points": float(gap), "pair": pair, "hidden": int(h),
                                 "level": float(level), "seed": int(seed)}
    return worst
