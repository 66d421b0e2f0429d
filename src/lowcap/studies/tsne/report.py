"""§4.5's report section: t-SNE scores, per-point agreement intervals and Fig 5."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from lowcap.report.html import table
from lowcap.report.plotting import new_figure, save_figure
from lowcap.report.statistics import bootstrap_two_way_ci
from lowcap.report.tables import results_by_model
from lowcap.run.checkpoints import load_tensors
from lowcap.run.plan import ModelPlan
from lowcap.run.store import Store
from lowcap.studies.base import ReportInput, Section
from lowcap.studies.selection import one_model
from lowcap.studies.tsne.compute import ARTEFACT


def report(inp: ReportInput) -> Section:
    """Summary keys `tsne` (scores by level) and `tsne_agreement` (intervals); Fig 5."""
    spec, name = inp.cfg.tsne, inp.protocol.name
    scores = tsne_scores(inp.store, one_model(spec).plans(inp.cfg, inp.protocol), spec.level)
    source = inp.store.artefact(ARTEFACT.format(name))
    figure = tsne_figure(source, scores, inp.figures, name)
    html = ""
    if scores:
        names = sorted({k for s in scores.values() for k in s})
        rows = [[lv, *(s.get(n, float("nan")) for n in names)] for lv, s in sorted(scores.items())]
        html = ("<h3>§4.5 t-SNE</h3><p>Paper: clusters 'qualitatively identical' after 95% "
                "pruning. Our numbers:</p>" + table(["level", *names], rows))
    return Section({"tsne": scores, "tsne_agreement": tsne_intervals(source, spec.level)},
                   [figure] if figure else [], html)


def tsne_scores(store: Store, plans: list[ModelPlan], level: float
                ) -> dict[str, dict[str, float]]:
    """'<level>' (0 and `level`; '<level>_live' for the pruned model's live units alone) →
    metric → value, for the t-SNE model among `plans`."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for rows in results_by_model(store, "tsne", plans).values():
        for row in rows:
            if row["params"]["level"] not in (0.0, level):
                continue
            live = "_live" if row["params"].get("units") == "live" else ""
            out[repr(row["params"]["level"]) + live][row["metric"]] = row["value"]
    return dict(out)


def tsne_intervals(source: Path, level: float) -> dict:
    """Per-point 10-NN label agreement in the 2-D embeddings (leave-one-out): means, and the
    95% interval of pruned − dense (the same points and the same run seeds) when the t-SNE
    runs and the points are resampled together, for all units and for the pruned model's live
    units ({} for runs that did not store them). `run_spread` is the standard error of the
    difference over runs: how far one set of embeddings moves it."""
    arrays = load_tensors(source) if source.is_file() else {}
    dense_key = "agreement_0.0"
    if dense_key not in arrays:
        return {}
    dense = np.atleast_2d(arrays[dense_key].numpy())  # [runs, points]
    out: dict = {"dense": float(np.mean(dense)), "points": dense.shape[1],
                 "embeddings": dense.shape[0]}
    for name, key in (("pruned", f"agreement_{level}"), ("pruned_live", f"agreement_{level}_live")):
        if key in arrays:
            values = np.atleast_2d(arrays[key].numpy())
            out[name] = float(np.mean(values))
            out[f"{name}_minus_dense_ci"] = list(bootstrap_two_way_ci(values - dense))
    return out


def _score(scores: dict, key: str) -> str:
    """A score to three decimals; "n/a" where none could be computed (stored as null)."""
    value = scores.get(key)
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.3f}"


def tsne_figure(source: Path, scores: dict, folder: Path, protocol: str) -> Path | None:
    """Fig 5: the embeddings side by side (dense, pruned, and the pruned model's live units
    alone), coloured by class, with their scores."""
    if not source.exists():
        return None
    stored = load_tensors(source)
    arrays = {k.removeprefix("embedding_"): v.numpy() for k, v in stored.items()
              if k.startswith("embedding_")}
    labels = stored["labels"].numpy()
    fig, axes = new_figure(ncols=len(arrays), width=5)
    for ax, key in zip(axes, sorted(arrays), strict=True):
        level, live = float(key.removesuffix("_live")), key.endswith("_live")
        points = arrays[key]
        for cls, colour in ((0, "tab:blue"), (1, "tab:orange")):
            pick = labels == cls
            ax.scatter(points[pick, 0], points[pick, 1], s=3, c=colour, label=f"class {cls}")
        s = scores.get(key, {})
        title = "dense" if level == 0 else f"{level:.0%} pruned"
        if live:
            title += f", {int(s.get('units', 0))} live units"
        ax.set_title(f"{title}: 10-NN agreement {_score(s, 'knn_agreement_2d')}, "
                     f"trustworthiness {_score(s, 'trustworthiness')}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].legend(markerscale=3)
    fig.suptitle(f"Fig 5 · t-SNE of hidden activations ({protocol})")
    return save_figure(fig, folder, f"fig5_tsne_{protocol}")
