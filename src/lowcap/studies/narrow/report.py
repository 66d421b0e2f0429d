"""Companion paper B in the report: the matched comparisons, loss curves, the constraint's
activity, test accuracy, and the verdict on the paper's sentence."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lowcap.report.claims import claim_record
from lowcap.report.html import table
from lowcap.report.plotting import new_figure, save_figure
from lowcap.report.statistics import ci_text
from lowcap.studies.base import ReportInput, Section
from lowcap.studies.narrow.summary import narrow_summary, verdict

PAPER_SAYS = ("Near m ≈ 2n/d, projected gradient methods on the constrained formulation "
              "significantly outperform SGD for training narrow networks.")
RULE = ("statistic: per seed, log(final training loss of SGD from LeCun's start / that of "
        "projected SGD from the mirrored start), each at its best (radius,) learning rate, the "
        "same batch size and step budget, at the width nearest m = 2n/d; 95% bootstrap interval "
        "over at least 5 seeds. Holds above 0, does not hold below; inconclusive otherwise, and "
        "whenever the best radius lies at the grid's edge or the constraint is active in fewer "
        "than half of the seeds")


def narrow_claims(summary: dict) -> list[dict]:
    """One claim per data set."""
    return [claim_record(f"narrow_projected_beats_sgd_{data}", "companion-B", PAPER_SAYS, RULE,
                         *verdict(entry)) for data, entry in summary.items()]


def _arm_label(arm: str) -> str:
    method, start = arm.split("@")
    return f"{method.replace('_', ' ')} ({start})"


def narrow_figures(summary: dict, folder: Path) -> list[Path]:
    """Per data set: final loss against m/(2n/d) per arm (every seed a point, the mean a line);
    the loss curves at m ≈ 2n/d; test accuracy against m/(2n/d) where the labels are real."""
    paths = []
    for data, entry in summary.items():
        widths = sorted(entry["widths"], key=int)
        arms = list(entry["widths"][widths[0]]["arms"])
        labelled = "test_accuracy" in entry["widths"][widths[0]]["arms"][arms[0]]
        fig, axes = new_figure(ncols=3 if labelled else 2, width=5.5)
        for arm in arms:
            ratios = [entry["widths"][m]["ratio"] for m in widths]
            finals = [entry["widths"][m]["arms"][arm]["final_loss"] for m in widths]
            line, = axes[0].plot(ratios, [np.nanmean(f) for f in finals], marker="o",
                                 label=_arm_label(arm))
            for r, f in zip(ratios, finals, strict=True):
                axes[0].scatter([r] * len(f), f, s=6, color=line.get_color(), alpha=0.5)
            near = entry["widths"][str(entry["verdict_width"])]["arms"][arm]
            axes[1].plot(near["steps"], near["loss_curve_mean"], label=_arm_label(arm),
                         color=line.get_color())
            if labelled:
                axes[2].plot(ratios, [np.nanmean(entry["widths"][m]["arms"][arm]
                                                 ["test_accuracy"]) for m in widths],
                             marker="o", color=line.get_color())
        axes[0].set(xscale="log", yscale="log", xlabel="m / (2n/d)",
                    ylabel="final training loss (best setting)", title=f"{data}: final loss")
        ratio = entry["widths"][str(entry["verdict_width"])]["ratio"]
        axes[1].set(yscale="log", xlabel="step", ylabel="training loss (mean over seeds)",
                    title=f"{data}: m = {entry['verdict_width']} (m/(2n/d) = {ratio:.2f})")
        if labelled:
            axes[2].set(xscale="log", xlabel="m / (2n/d)", ylabel="test accuracy",
                        title=f"{data}: test accuracy")
        axes[0].legend(fontsize=7)
        fig.suptitle(f"Fig N1 · narrow networks on {data}: every projected arm beside its "
                     "unconstrained twin")
        paths.append(save_figure(fig, folder, f"figN1_narrow_{data}"))
    return paths


def run_report(inp: ReportInput) -> Section:
    """Summary key `narrow`, its claims, the tables and the figures."""
    spec = inp.cfg.narrow
    summary = narrow_summary(inp.store, spec.loss_threshold, spec.radii)
    return Section({"narrow": summary}, narrow_figures(summary, inp.figures),
                   _html(summary, spec.loss_threshold), narrow_claims(summary))


def _mean(values: list[float] | None) -> float:
    return float(np.nanmean(values)) if values else float("nan")


def _html(summary: dict, threshold: float) -> str:
    if not summary:
        return ""
    parts = ["<h2>Companion B · narrow networks, projected gradient vs SGD (Zhang et al. "
             "2021)</h2><p>lowcap's operationalisation (docs/companions.md): the first layer "
             "trained inside the Frobenius ball ‖W − W0‖ ≤ R around its start, square loss, "
             "inputs of norm √d. Every projected arm runs beside its unconstrained twin at the "
             "same start, batch size, learning rates and step budget; each arm at its best "
             "(radius,) learning rate.</p>"]
    for data, entry in summary.items():
        m = str(entry["verdict_width"])
        arms = entry["widths"][m]["arms"]
        rows = [[_arm_label(arm), "—" if a["radius"] is None else f"{a['radius']:g}",
                 a["lr"], a["final_loss_mean"], _mean(a.get("test_accuracy")),
                 f"{a['on_boundary']:.0%}" if a["radius"] is not None else "—",
                 a["travelled"], _mean(a["steps_to_threshold"]),
                 f"{_mean(a.get('sigma_min_start')):.3g} → {_mean(a.get('sigma_min_end')):.3g}"]
                for arm, a in arms.items()]
        parts.append(f"<h3>{data}: m = {m}, m/(2n/d) = {entry['widths'][m]['ratio']:.2f}</h3>"
                     + table(["arm", "R / ‖W0‖", "lr", "final loss", "test accuracy",
                              "on the ball's boundary", "‖W − W0‖ / ‖W0‖",
                              f"steps to loss ≤ {threshold:g} (mean)", "σ_min start → end"],
                             rows))
        compared = [[name, f"{c['mean']:+.3f}", ci_text(tuple(c["ci"])), c["seeds"]]
                    for name, c in entry["comparisons"].items()]
        parts.append("<p>Matched comparisons: log(twin's final loss / treated arm's), per "
                     "seed (&gt; 0: the projection, or the start, trains lower).</p>"
                     + table(["comparison (treated vs twin)", "mean", "95% interval",
                              "seeds"], compared))
        by_width = [[f"{entry['widths'][w]['ratio']:.2f}", f"{c['mean']:+.3f}",
                     ci_text(tuple(c["ci"]))] for w, c in entry["paper_by_width"].items()]
        parts.append("<p>The paper's comparison at every width (does the gap shrink as m "
                     "grows?):</p>" + table(["m/(2n/d)", "mean log ratio", "95% interval"],
                                            by_width))
    return "\n".join(parts)

