"""The Novak-scale study in the report: the design, rank correlations of each measure with the
generalization gap (pooled and per factor, with bootstrap intervals), the granulated Kendall
coefficients per hyper-parameter axis, and Fig N1."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from lowcap.report.html import table
from lowcap.report.plotting import new_figure, save_figure
from lowcap.run.store import Store
from lowcap.studies.base import ReportInput, Section
from lowcap.studies.sensitivity_scale.config import SensitivityScaleConfig
from lowcap.studies.sensitivity_scale.statistics import AXES, GAP, MEASURES, scale_statistics


def measured_models(store: Store) -> list[dict]:
    """One dict per measured model: its metrics, its gap and its `factors`."""
    metrics: dict[str, dict[str, float]] = defaultdict(dict)
    for row in store.results("sensitivity_scale"):
        metrics[row["model_id"]][row["metric"]] = (np.nan if row["value"] is None
                                                   else row["value"])
    specs = store.models(sorted(metrics))
    out = []
    for model_id, values in metrics.items():
        spec = specs[model_id]["spec"]
        factors = {"dataset": spec["dataset"], "pair": "-".join(map(str, spec["pair"])),
                   "seed": spec["seed"], "depth": spec["depth"], "width": spec["hidden"],
                   "optimiser": spec["optimiser"],
                   "batch_size": spec["batch_size"] or "full", "augment": spec["augment"],
                   "labels": spec["labels"]}
        out.append({**values, GAP: values["train_acc"] - values["test_acc"],
                    "factors": factors, "model_id": model_id})
    return out


def summary(models: list[dict], spec: SensitivityScaleConfig) -> dict:
    """The summary key `sensitivity_scale` of the `measured_models` (empty before the study
    has run)."""
    if len(models) < 3:
        return {}
    return {"models": len(models),
            "jacobian_norm": "‖∂p/∂x‖_F of the output probability p = σ(f), averaged over "
                             f"{spec.points} test points (Novak et al.'s two-class softmax "
                             "norm is √2 times it; rank statistics do not change)",
            "gap": "train accuracy − test accuracy (random-label models: against their "
                   "random training labels)",
            "factors": {"datasets": spec.datasets, "depths": spec.depths,
                        "widths": spec.widths, "optimisers": spec.optimisers,
                        "batch_sizes": spec.batch_sizes, "augment": spec.augment,
                        "labels": spec.labels, "seeds": spec.seeds},
            "measures": scale_statistics(models, spec.bootstrap, spec.seed)}


def figure(models: list[dict], folder: Path) -> Path:
    """Fig N1: the gap against each measure, one colour per depth."""
    fig, axes = new_figure(ncols=len(MEASURES))
    for ax, (measure, title) in zip(axes, MEASURES.items(), strict=True):
        for depth in sorted({m["factors"]["depth"] for m in models}):
            chosen = [m for m in models if m["factors"]["depth"] == depth]
            ax.scatter([m[measure] for m in chosen], [m[GAP] for m in chosen], s=4,
                       alpha=0.5, label=f"depth {depth}")
        ax.set(xscale="log", xlabel=title, ylabel="train − test accuracy",
               title=f"{title} vs gap ({len(models)} models)")
        ax.legend(fontsize=8)
    return save_figure(fig, folder, "figN1_sensitivity_scale")


def _ci(entry: dict) -> str:
    low, high = entry["spearman_ci"]
    return "—" if low is None else f"{low:+.3f} to {high:+.3f}"


def _html(s: dict) -> str:
    rows, granulated = [], []
    for measure, title in MEASURES.items():
        entry = s["measures"][measure]
        pooled = entry["pooled"]
        rows.append([title, "pooled", "all", pooled["n"], pooled["spearman"], _ci(pooled),
                     pooled["kendall"]])
        for factor, levels in entry["factors"].items():
            rows += [[title, factor, level, e["n"], e["spearman"], _ci(e), e["kendall"]]
                     for level, e in levels.items()]
        granulated.append([title, *(entry["granulated_tau"][a] for a in AXES),
                           entry["granulated_tau_overall"]])
    f = s["factors"]
    design = (f"{s['models']} models: datasets {f['datasets']}, depths {f['depths']}, widths "
              f"{f['widths']}, optimisers {f['optimisers']}, batch sizes {f['batch_sizes']}, "
              f"augmentation {f['augment']}, labels {f['labels']}, seeds {f['seeds']}.")
    return ("<h2>Companion A at scale · sensitivity and generalization over thousands of "
            "models</h2>"
            f"<p>{design} Jacobian norm: {s['jacobian_norm']}. Gap: {s['gap']}. Spearman's ρ "
            "with a 95% bootstrap interval over models, Kendall's τ; ψ per axis is Jiang et "
            "al. (2020)'s granulated τ (models differing in that axis alone), Ψ their mean."
            "</p>"
            + table(["measure", "factor", "level", "models", "Spearman ρ", "95% CI",
                     "Kendall τ"], rows)
            + table(["measure", *(f"ψ {a}" for a in AXES), "Ψ"], granulated))


def run_report(inp: ReportInput) -> Section:
    """Summary key `sensitivity_scale`, its tables and Fig N1."""
    models = measured_models(inp.store)
    s = summary(models, inp.cfg.sensitivity_scale)
    if not s:
        return Section({"sensitivity_scale": {}})
    return Section({"sensitivity_scale": s}, [figure(models, inp.figures)], _html(s))
