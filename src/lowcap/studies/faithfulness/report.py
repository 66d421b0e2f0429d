"""The faithfulness section: deletion and insertion curves of each attribution method against
a random ranking, dense and pruned, and the model-randomisation check, in words."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from lowcap.report.html import table
from lowcap.report.plotting import new_figure, save_figure
from lowcap.report.tables import results_by_model
from lowcap.studies.base import ReportInput, Section
from lowcap.studies.faithfulness.curves import pixel_counts
from lowcap.studies.selection import at_pair_and_widths

STATES = ("dense", "pruned")
CURVES = ("deletion", "insertion")


def _per_model(inp: ReportInput) -> dict[str, dict]:
    """model id → {'width', 'areas': {(state, method, curve): area}, 'curves': {(state,
    method, curve): {k: value}}, 'randomisation': {method: spearman}}."""
    spec = inp.cfg.faithfulness
    plans = at_pair_and_widths(spec).plans(inp.cfg, inp.protocol)
    width = {p.model_id: p.hidden for p in plans}
    models: dict[str, dict] = {}
    for model_id, rows in results_by_model(inp.store, "faithfulness", plans).items():
        entry = models[model_id] = {"width": width[model_id], "areas": {},
                                    "curves": defaultdict(dict), "randomisation": {}}
        for row in rows:
            params, metric = row["params"], row["metric"]
            value = np.nan if row["value"] is None else row["value"]
            if metric == "randomisation_spearman":
                entry["randomisation"][params["method"]] = value
            elif params["level"] == spec.level and params["method"] in spec.methods:
                key = (params["state"], params["method"], metric.removesuffix("_auc"))
                if metric.endswith("_auc"):
                    entry["areas"][key] = value
                else:
                    entry["curves"][key][params["k"]] = value
    return models


def _mean(values: list[float]) -> float:
    with np.errstate(all="ignore"):
        return float(np.nanmean(values)) if values else float("nan")


def _gains(models: dict[str, dict], method: str, state: str) -> dict[str, list[float]]:
    """Per model (the claims' unit): how much lower the method's deletion area is than the
    random ranking's, and how much higher its insertion area."""
    out: dict[str, list[float]] = {"deletion": [], "insertion": []}
    for entry in models.values():
        areas = entry["areas"]
        for curve, sign in (("deletion", -1.0), ("insertion", 1.0)):
            ours, chance = areas.get((state, method, curve)), areas.get((state, "random", curve))
            if ours is not None and chance is not None:
                out[curve].append(sign * (ours - chance))
    return out


def summary(inp: ReportInput) -> dict:
    """Summary key `faithfulness`: per width, state and method the mean areas and curves over
    seeds; per method and state every model's gain over the random ranking (the claims'
    data); per method every model's randomisation Spearman, and its mean per width."""
    spec = inp.cfg.faithfulness
    models = _per_model(inp)
    by_width: dict = {}
    for width in sorted({m["width"] for m in models.values()}):
        members = [m for m in models.values() if m["width"] == width]
        states: dict = {}
        for state in STATES:
            for method in spec.methods:
                entry = {}
                for curve in CURVES:
                    key = (state, method, curve)
                    entry[f"{curve}_auc"] = _mean([m["areas"][key] for m in members
                                                   if key in m["areas"]])
                    ks = sorted({k for m in members for k in m["curves"].get(key, {})})
                    entry[curve] = [_mean([m["curves"][key][k] for m in members
                                           if k in m["curves"].get(key, {})]) for k in ks]
                if entry[CURVES[0]]:
                    states.setdefault(state, {})[method] = entry
        by_width[str(width)] = states
    gains = {method: {state: _gains(models, method, state) for state in STATES}
             for method in spec.methods if method != "random" and "random" in spec.methods}
    randomisation: dict = defaultdict(lambda: {"models": [], "by_width": {}})
    for method in spec.methods:
        values = [(m["width"], m["randomisation"][method]) for m in models.values()
                  if method in m["randomisation"]]
        if values:
            randomisation[method]["models"] = [v for _, v in values]
            randomisation[method]["by_width"] = {
                str(w): _mean([v for ww, v in values if ww == w])
                for w in sorted({w for w, _ in values})}
    return {"faithfulness": {
        "pair": f"{spec.pair[0]}-{spec.pair[1]}", "level": spec.level,
        "pixels": pixel_counts(spec.points), "models": len(models),
        "by_width": {w: s for w, s in by_width.items() if s},
        "gain_over_random": gains, "randomisation_spearman": dict(randomisation)}}


def answer(section: dict) -> str:
    """What the curves and the check say, in words from the numbers."""
    parts = []
    for method, states in section["gain_over_random"].items():
        shown = ", ".join(
            f"{state} {_mean(g['deletion']):+.3f} / {_mean(g['insertion']):+.3f}"
            for state, g in states.items() if g["deletion"])
        if shown:
            parts.append(f"{method}: {shown}")
    check = "; ".join(f"{m} {_mean(v['models']):+.2f}"
                      for m, v in section["randomisation_spearman"].items())
    return ("Mean gain over a random ranking of the pixels (deletion area lower by / insertion "
            "area higher by; positive means the map ranks pixels the model relies on first): "
            f"{'; '.join(parts) or 'not measured'}. Model randomisation check (Adebayo et al. "
            "2018; Spearman correlation between the trained model's maps and those of the same "
            "architecture freshly initialised, near 0 when a map depends on what the model "
            f"learnt): {check or 'not measured'}.")


def _figure(section: dict, folder: Path, protocol: str) -> Path | None:
    widths = list(section["by_width"])
    if not widths:
        return None
    width = widths[len(widths) // 2]
    x = np.array(section["pixels"]) / 784
    fig, axes = new_figure(2, 4.0, 3.0)
    for ax, curve in zip(axes, CURVES, strict=True):
        for state, style in zip(STATES, ("-", ":"), strict=True):
            for method, entry in section["by_width"][width].get(state, {}).items():
                ax.plot(x, entry[curve], style, label=f"{method} ({state})")
        ax.set_xlabel(f"share of pixels {'removed' if curve == 'deletion' else 'inserted'}")
        ax.set_ylabel("p(true class)")
        ax.set_title(f"{curve}, h = {width}", fontsize=9)
    axes[0].legend(fontsize=6)
    return save_figure(fig, folder, f"figF1_faithfulness_{protocol}")


def report(inp: ReportInput) -> Section:
    """The areas per width, state and method, the figure and the answer."""
    result = summary(inp)
    section = result["faithfulness"]
    if not section["by_width"]:
        return Section()
    rows = [[width, state, method, entry["deletion_auc"], entry["insertion_auc"]]
            for width, states in section["by_width"].items()
            for state, methods in states.items() for method, entry in methods.items()]
    figure = _figure(section, inp.figures, inp.protocol.name)
    html = ("<h3>§4.7 continued: are the saliency maps faithful?</h3><p>Deletion and insertion "
            f"curves on {section['pair']} validation images: pixels set to 0 (or restored "
            "from a black image) in the order of each map, the mean probability of the true "
            f"class followed; dense and {section['level']:.0%} layerwise-pruned models. "
            f"{answer(section)}</p>"
            + table(["width", "model", "method", "deletion area (lower: faithful)",
                     "insertion area (higher: faithful)"], rows))
    return Section(result, [figure] if figure else [], html)
