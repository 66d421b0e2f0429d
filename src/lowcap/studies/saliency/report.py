"""§4.7's report section: dense-vs-pruned agreement of the maps, Fig 8 and the attribution
methods compared."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from lowcap.report.html import table
from lowcap.report.plotting import new_figure, save_figure
from lowcap.report.statistics import bootstrap_mean_ci
from lowcap.report.tables import results_by_model
from lowcap.run.checkpoints import load_tensors
from lowcap.run.plan import ModelPlan
from lowcap.run.store import Store
from lowcap.studies.base import ReportInput, Section
from lowcap.studies.saliency.compute import ARTEFACT
from lowcap.studies.selection import one_model

SALIENCY_METRICS = ("spearman_mean", "spearman_std", "topk_overlap_mean", "topk_overlap_std",
                    "undefined_maps", "images", "spearman_mean_undefined_as_zero")


def report(inp: ReportInput) -> Section:
    """Summary key `saliency`: agreement by pruning kind, with intervals for magnitude
    pruning; Fig 8 and the attribution methods."""
    spec, name = inp.cfg.saliency, inp.protocol.name
    result = saliency_scores(inp.store, one_model(spec).plans(inp.cfg, inp.protocol), spec.level)
    source = inp.store.artefact(ARTEFACT.format(name))
    if "magnitude" in result:
        result["magnitude"].update(saliency_intervals(source))
    figures = saliency_figures(source, inp.figures, name, spec.level, spec.epsilon)
    if not result:
        return Section({"saliency": result}, figures)
    rows = [[kind, *(s.get(m, float("nan")) for m in SALIENCY_METRICS)]
            for kind, s in result.items()]
    return Section({"saliency": result}, figures, (
        "<h3>§4.7 Saliency: does the pruned model keep the dense one's reasoning?</h3><p>"
        "Agreement of finite-difference maps, dense vs "
        f"{spec.level:.0%}-pruned, over validation images; random pruning at the same "
        "sparsity is the baseline. Where the pruned network's output is constant its map is "
        "all zero and Spearman is undefined: <code>spearman_mean</code> leaves those images "
        "out, <code>spearman_mean_undefined_as_zero</code> counts them as no agreement (the "
        "claims check uses the latter).</p>" + table(["pruning", *SALIENCY_METRICS], rows)))


def saliency_scores(store: Store, plans: list[ModelPlan], level: float) -> dict:
    """pruning kind ('magnitude' | 'random') → metric → value, for the saliency model."""
    out: dict = defaultdict(dict)
    for rows in results_by_model(store, "saliency", plans).values():
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


def saliency_figures(source: Path, folder: Path, protocol: str, level: float = 0.95,
                     epsilon: float = 0.01) -> list[Path]:
    """Fig 8 (finite-difference maps of the four panels) and the attribution methods compared
    on the first panel's image (finite difference, |gradient|, integrated gradients)."""
    if not source.exists():
        return []
    data = load_tensors(source)
    titles = ["correct first digit", "correct second digit", "first digit taken for second",
              f"correct first digit, {level:.0%} pruned"]
    fig, axes = new_figure(ncols=4, width=2.8, height=2.9)
    methods = [("finite difference (paper)", data["finite_difference"]),
               ("|gradient|", data["gradient"]),
               ("integrated gradients", data["integrated_gradients"])]
    for col, ax in enumerate(axes):
        image_index = 0 if col == 3 else col
        if int(data["indices"][image_index]) < 0:
            ax.set_title(f"{titles[col]}\n(none found)", fontsize=8)
            ax.axis("off")
            continue
        ax.imshow(data["images"][image_index].reshape(28, 28).numpy(), cmap="gray", alpha=0.35)
        ax.imshow(data["finite_difference"][col].reshape(28, 28).numpy(), cmap="hot", alpha=0.75)
        ax.set_title(titles[col], fontsize=8)
        ax.axis("off")
    fig.suptitle(f"Fig 8 · finite-difference saliency, ε = {epsilon:g} ({protocol})")
    paths = [save_figure(fig, folder, f"fig8_saliency_{protocol}")]
    if int(data["indices"][0]) < 0:
        return paths
    fig, axes = new_figure(ncols=3, width=2.8, height=2.9)
    for ax, (title, maps) in zip(axes, methods, strict=True):
        ax.imshow(maps[0].reshape(28, 28).abs().numpy(), cmap="hot")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.suptitle(f"Attribution methods on the correct first digit ({protocol})")
    paths.append(save_figure(fig, folder, f"fig8b_attributions_{protocol}"))
    return paths
