"""The saliency-under-corruption section: how far the maps move as noise grows and where they
go under occlusion, beside F1 on the same images, and the answer to "does attention move
before accuracy drops?" in words from the numbers."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from lowcap.report.html import table
from lowcap.report.plotting import new_figure, save_figure
from lowcap.report.tables import results_by_model
from lowcap.studies.base import ReportInput, Section
from lowcap.studies.selection import at_pair_and_widths


def _label(params: dict) -> str:
    """A corruption's column: 'clean', the σ, or 'occlusion'."""
    if params["corruption"] == "gaussian":
        return repr(float(params["parameter"]))
    return params["corruption"]


def _means(inp: ReportInput) -> dict:
    """width → metric → (method or '') → label → mean over the width's models."""
    plans = at_pair_and_widths(inp.cfg.saliency_shift).plans(inp.cfg, inp.protocol)
    width = {p.model_id: str(p.hidden) for p in plans}
    values: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(list))))
    for model_id, rows in results_by_model(inp.store, "saliency_shift", plans).items():
        for row in rows:
            value = np.nan if row["value"] is None else row["value"]
            values[width[model_id]][row["metric"]][row["params"].get("method", "")][
                _label(row["params"])].append(value)
    with np.errstate(all="ignore"):
        return {w: {metric: {method: {label: float(np.nanmean(v)) for label, v in labels.items()}
                             for method, labels in methods.items()}
                    for metric, methods in metrics.items()}
                for w, metrics in values.items()}


def first_sigma(curve: dict[str, float], sigmas: list[float], passed) -> float | None:
    """The smallest σ whose value satisfies `passed`, None if none does."""
    return next((s for s in sigmas if repr(float(s)) in curve and passed(curve[repr(float(s))])),
                None)


def summary(inp: ReportInput) -> dict:
    """Summary key `saliency_shift`: per width the F1 and each method's Spearman correlation
    with the clean map per σ and under occlusion, the occluder's share of each map, the first
    σ where attention moved and where F1 dropped; per method how many widths moved first."""
    spec = inp.cfg.saliency_shift
    by_width: dict = {}
    first: dict = {m: {"earlier": 0, "same": 0, "later": 0, "neither": 0} for m in spec.methods}
    for w, metrics in sorted(_means(inp).items(), key=lambda i: int(i[0])):
        f1 = metrics.get("f1", {}).get("", {})
        clean = f1.get("clean", np.nan)
        dropped = first_sigma(f1, spec.sigmas, lambda v, c=clean: c - v > spec.dropped_by)
        entry = {"f1": f1, "spearman": metrics.get("spearman", {}),
                 "occluder_share": {m: v.get("occlusion") for m, v in
                                    metrics.get("occluder_share", {}).items()},
                 "sigma_dropped": dropped, "sigma_moved": {}}
        for method, curve in entry["spearman"].items():
            moved = first_sigma(curve, spec.sigmas, lambda v: v < spec.moved_below)
            entry["sigma_moved"][method] = moved
            a, b = (math.inf if s is None else s for s in (moved, dropped))
            first[method]["neither" if a == b == math.inf else
                          "earlier" if a < b else "same" if a == b else "later"] += 1
        by_width[w] = entry
    return {"saliency_shift": {
        "pair": f"{spec.pair[0]}-{spec.pair[1]}", "sigmas": spec.sigmas,
        "occlusion_size": spec.occlusion_size,
        "occluder_area_share": spec.occlusion_size ** 2 / 784,
        "thresholds": {"moved_below": spec.moved_below, "dropped_by": spec.dropped_by},
        "by_width": by_width, "attention_first": first if by_width else {}}}


def answer(section: dict) -> str:
    """The question answered per method, in words from the numbers."""
    t = section["thresholds"]
    parts = []
    for method, counts in section["attention_first"].items():
        parts.append(f"{method}: moved first at {counts['earlier']} of {sum(counts.values())} "
                     f"widths, at the same σ at {counts['same']}, later at {counts['later']}, "
                     f"neither within the σ range at {counts['neither']}")
    shares = []
    for w, entry in section["by_width"].items():
        values = [v for v in entry["occluder_share"].values() if v is not None]
        if values:
            shares.append(f"h={w}: {np.mean(values):.3f}")
    return (f"Attention counts as moved once the mean Spearman correlation with the clean map "
            f"falls below {t['moved_below']}, accuracy as dropped once F1 is {t['dropped_by']} "
            f"below clean. {'; '.join(parts) or 'Not measured'}. Under "
            f"{section['occlusion_size']}×{section['occlusion_size']} occlusion the maps put "
            f"this share of their mass on the (black) occluder, against its area share "
            f"{section['occluder_area_share']:.3f}: {', '.join(shares) or 'not measured'}.")


def _figure(section: dict, folder: Path, protocol: str) -> Path | None:
    if not section["by_width"]:
        return None
    sigmas = section["sigmas"]
    fig, axes = new_figure(2, 4.2, 3.2)
    for w, entry in section["by_width"].items():
        f1 = entry["f1"]
        line, = axes[0].plot([0, *sigmas], [f1.get("clean", np.nan),
                                            *[f1.get(repr(float(s)), np.nan) for s in sigmas]],
                             "--", marker=".", label=f"F1, h={w}")
        for method, curve in entry["spearman"].items():
            if method == "finite_difference":
                axes[0].plot([0, *sigmas], [1.0, *[curve.get(repr(float(s)), np.nan)
                                                   for s in sigmas]],
                             "-", marker="o", color=line.get_color(), label=f"Spearman, h={w}")
    axes[0].set(xlabel="Gaussian noise σ", ylabel="value",
                title="finite-difference map vs clean (—) and F1 (--)")
    axes[0].legend(fontsize=6)
    widths = list(section["by_width"])
    methods = sorted({m for e in section["by_width"].values() for m in e["occluder_share"]})
    for i, method in enumerate(methods):
        axes[1].bar(np.arange(len(widths)) + i / (len(methods) + 1),
                    [section["by_width"][w]["occluder_share"].get(method) or 0 for w in widths],
                    width=1 / (len(methods) + 1), label=method)
    axes[1].axhline(section["occluder_area_share"], color="k", ls=":", label="area share")
    axes[1].set_xticks(range(len(widths)), [f"h={w}" for w in widths])
    axes[1].set(ylabel="share of map mass on the occluder", title="occlusion")
    axes[1].legend(fontsize=6)
    return save_figure(fig, folder, f"figS2_saliency_shift_{protocol}")


def report(inp: ReportInput) -> Section:
    """The per-width table, the figure and the answer."""
    result = summary(inp)
    section = result["saliency_shift"]
    if not section["by_width"]:
        return Section()
    rows = [[w, method, entry["f1"].get("clean"), entry["sigma_dropped"],
             entry["sigma_moved"].get(method), curve.get("occlusion"),
             entry["occluder_share"].get(method)]
            for w, entry in section["by_width"].items()
            for method, curve in entry["spearman"].items()]
    figure = _figure(section, inp.figures, inp.protocol.name)
    html = ("<h3>§4.7 under corruption: does attention move before accuracy drops?</h3>"
            f"<p>Saliency maps of {section['pair']} models on noisy and occluded validation "
            f"images, compared with the same images' clean maps. {answer(section)}</p>"
            + table(["width", "method", "clean F1", "σ where F1 dropped",
                     "σ where the map moved", "Spearman under occlusion",
                     "map mass on the occluder"], rows))
    return Section(result, [figure] if figure else [], html)
