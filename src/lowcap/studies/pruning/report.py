"""§4.3's report section: % change in F1 by method, level and width; Figs 4 and B.1–B.4."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from lowcap.report.html import table
from lowcap.report.plotting import new_figure, save_figure
from lowcap.report.tables import results_by_model
from lowcap.report.trends import factor_trend
from lowcap.run.plan import ModelPlan
from lowcap.run.store import Store
from lowcap.studies.base import ReportInput, Section, section
from lowcap.studies.pruning.compute import pruning_methods
from lowcap.studies.pruning.methods import pruned_count
from lowcap.studies.selection import Selection
from lowcap.studies.tsne.config import TSNEConfig

# The paper's numbering of its pruning figures.
PRUNING_FIGURES = {"4-9": "fig4", "0-1": "figB1", "1-7": "figB2", "3-8": "figB3", "5-6": "figB4"}
METHOD_LABELS = {
    "layerwise": "layerwise magnitude (paper C.1)",
    "global": "global magnitude",
    "random": "random (baseline)",
    "layerwise_refscale": "reference code: fraction / 100",
    "layerwise_nearest": "layerwise, k = round(s·n) (torch)",
}


def summary(inp: ReportInput) -> dict:
    """Summary keys `pruning` (layerwise, the paper's method), `pruning_methods` (all) and
    `pruning_rounding_spread`."""
    cfg = inp.cfg
    plans = Selection(cfg.pruning.select).plans(cfg, inp.protocol)
    by_method = pruning_table(inp.store, plans, cfg.pruning.levels,
                              pruning_methods(cfg, inp.protocol))
    layerwise = _layerwise(by_method)
    return {
        "pruning": {pair: {h: {lv: {"f1": e["f1"], "pct_change_f1": e["pct_change_f1"],
                                    "achieved_sparsity": e["achieved_sparsity"]}
                               for lv, e in levels.items()}
                           for h, levels in widths.items()}
                    for pair, widths in layerwise.items()},
        "pruning_methods": by_method,
        "pruning_rounding_spread": rounding_spread(by_method),
        "pruning_trends": pruning_trends(by_method, cfg.pruning.min_effect_pct),
    }


def pruning_trends(by_method: dict, min_effect_pct: float) -> dict:
    """Summary key `pruning_trends`: method → pair → level → the shape over widths of each
    seed's % change in F1 (`lowcap.report.trends.factor_trend`), for magnitude pruning at the
    three highest levels (where width matters)."""
    out: dict = {}
    for method in ("layerwise", "layerwise_nearest", "global"):
        for pair, widths in by_method.get(method, {}).items():
            levels = sorted({lv for w in widths.values() for lv in w}, key=float)[-3:]
            out.setdefault(method, {})[pair] = {
                lv: factor_trend({h: w[lv]["pct_change_by_seed"] for h, w in widths.items()
                                  if lv in w}, min_effect_pct).as_dict()
                for lv in levels}
    return out


def _layerwise(by_method: dict) -> dict:
    return by_method.get("layerwise") or by_method.get("layerwise_nearest", {})


def report(inp: ReportInput) -> Section:
    """The `summary` keys; the pruning figures, and the methods compared on the model the
    t-SNE section embeds (where there is one)."""
    cfg, name = inp.cfg, inp.protocol.name
    result = summary(inp)
    by_method = result["pruning_methods"]
    layerwise = _layerwise(by_method)
    figures = pruning_figures(layerwise, inp.figures, name)
    focus = section(cfg, TSNEConfig)
    pair = f"{focus.pair[0]}-{focus.pair[1]}" if focus else next(iter(layerwise), None)
    hidden = str(focus.hidden) if focus else None
    if pair and hidden:
        path = methods_figure(by_method, pair, hidden, inp.figures, name)
        figures += [path] if path else []
    html = ("<h3>§4.3 One-shot magnitude pruning</h3>" + _pruning_section(by_method)
            + _trends_html(result["pruning_trends"])
            + _rounding_note(result["pruning_rounding_spread"]))
    return Section(result, figures, html)


def pruning_table(store: Store, plans: list[ModelPlan], levels: list[float],
                  methods: list[str], metric: str = "val_f1") -> dict:
    """method → pair → width → level → {f1, f1_std, pct_change_f1, pct_change_std,
    achieved_sparsity, pct_change_by_seed}, means over seeds (and each seed's own % change,
    keyed by seed); % change is relative to each model's dense F1.
    Only the configured levels and methods count (the store may hold earlier ones)."""
    rows = results_by_model(store, "pruning", plans)
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


def pruning_figures(layerwise: dict, folder: Path, protocol: str) -> list[Path]:
    """Per pair: % change in validation F1 vs sparsity, one line per width, seed std band."""
    paths = []
    extra = 5
    for pair, widths in layerwise.items():
        name = PRUNING_FIGURES.get(pair)
        if name is None:
            name, extra = f"figB{extra}", extra + 1
        fig, (ax,) = new_figure()
        for hidden in sorted(widths, key=int):
            levels = sorted(widths[hidden], key=float)
            x = [float(level) for level in levels]
            mean = np.array([widths[hidden][lv]["pct_change_f1"] for lv in levels])
            std = np.array([widths[hidden][lv]["pct_change_std"] for lv in levels])
            line, = ax.plot(x, mean, marker=".", label=f"h={hidden}")
            ax.fill_between(x, mean - std, mean + std, alpha=0.15, color=line.get_color())
        ax.axhline(0, color="gray", lw=0.8)
        ax.set(xlabel="sparsity (fraction of weights pruned per layer)",
               ylabel="% change in validation F1", yscale="symlog",
               title=f"{name.replace('fig', 'Fig ')} · pruning, pair {pair} ({protocol})")
        ax.legend(fontsize=7, ncol=2)
        paths.append(save_figure(fig, folder, f"{name}_pruning_{pair}_{protocol}"))
    return paths


def methods_figure(table: dict, pair: str, hidden: str, folder: Path, protocol: str
                   ) -> Path | None:
    """F1 vs sparsity for every pruning method, one (pair, width)."""
    fig, (ax,) = new_figure()
    drawn = False
    for method, pairs in table.items():
        entry = pairs.get(pair, {}).get(hidden)
        if not entry:
            continue
        levels = sorted(entry, key=float)
        mean = np.array([entry[lv]["f1"] for lv in levels])
        std = np.array([entry[lv]["f1_std"] for lv in levels])
        x = [float(lv) for lv in levels]
        line, = ax.plot(x, mean, marker="o", label=METHOD_LABELS.get(method, method))
        ax.fill_between(x, mean - std, mean + std, alpha=0.15, color=line.get_color())
        drawn = True
    if not drawn:
        return None
    ax.set(xlabel="target sparsity", ylabel="validation F1",
           title=f"Pruning methods, pair {pair}, h={hidden} ({protocol})")
    ax.legend(fontsize=8)
    return save_figure(fig, folder, f"fig4b_pruning_methods_{protocol}")


def _rounding_note(spread: dict) -> str:
    if not spread:
        return ""
    return ("<p>Rounding: <code>layerwise</code> prunes int(s·n) weights per layer (the "
            "paper's appendix), <code>layerwise_nearest</code> round(s·n) (torch's "
            "l1_unstructured). For one model they differ by up to "
            f"{spread['max_pct_points']:.1f} percentage points of F1 (pair {spread['pair']}, "
            f"h = {spread['hidden']}, seed {spread['seed']}, {spread['level']:.0%}): at small "
            "widths one output weight more or less can decide the model.</p>")


def _pruning_section(by_method: dict) -> str:
    """Mean % change in validation F1 (and mean F1) at the three highest levels, per method,
    pair and width: widths are where pruning differs, so they are not pooled."""
    levels = sorted({lv for pairs in by_method.values() for widths in pairs.values()
                     for w in widths.values() for lv in w}, key=float)[-3:]
    rows = []
    for method, pairs in by_method.items():
        for pair, widths in pairs.items():
            for h in sorted(widths, key=int):
                cells = [widths[h].get(lv) for lv in levels]
                rows.append([method, pair, h, *(
                    "—" if c is None else f"{c['pct_change_f1']:+.2f}% (F1 {c['f1']:.3f})"
                    for c in cells)])
    return ("<p>Mean % change in validation F1 (mean F1 in brackets) per width, over seeds "
            "(paper: (0,1) ≈ 0 up to 99%; (4,9) changes of order 1e-2; degradation mostly "
            "beyond 95%).</p>"
            + table(["method", "pair", "hidden", *(f"{float(lv):.0%}" for lv in levels)], rows)
            + _few_weights_note(by_method))


def _trends_html(trends: dict) -> str:
    rows = [[method, pair, f"{float(lv):.0%}", t["shape"], t["reason"]]
            for method, pairs in trends.items() for pair, levels in pairs.items()
            for lv, t in levels.items()]
    return ("<p>How the % change in F1 moves over every width (lowcap.report.trends):</p>"
            + table(["method", "pair", "level", "shape over widths", "why"], rows)
            if rows else "")


def _few_weights_note(by_method: dict) -> str:
    """Where layerwise pruning leaves the output layer (one weight per hidden unit) 2 weights
    or fewer: there the width effect is one of a few surviving weights, not of capacity."""
    cells = {(method, int(h), float(lv)) for method in ("layerwise", "layerwise_nearest")
             for widths in by_method.get(method, {}).values()
             for h, levels in widths.items() for lv in levels}
    left = {cell: cell[1] - pruned_count(cell[1], cell[2], cell[0]) for cell in cells}
    few = sorted((*cell, k) for cell, k in left.items() if k <= 2)
    if not few:
        return ""
    cells = "; ".join(f"{m} h={h} at {lv:.0%}: {k} left" for m, h, lv, k in few)
    return ("<p><b>Few weights left.</b> Layerwise pruning leaves the output layer (one weight "
            f"per hidden unit) with 2 weights or fewer here: {cells}. At these widths and "
            "levels the model's F1 rests on those few weights; global pruning does not force "
            "this.</p>")
