"""The sweep's report section: best validation F1 by pair, learning rate and width with seed
spreads, a figure of F1 against width, and the training curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lowcap.report.html import table
from lowcap.report.plotting import band, new_figure, save_figure
from lowcap.report.tables import ModelCurves, model_curves
from lowcap.report.trends import MIN_EFFECT_F1, factor_trend
from lowcap.studies.base import ReportInput, Section
from lowcap.studies.sweep.config import plans

MAX_CURVE_PANELS = 6  # learning rates per training-curves figure


def sweep_table(curves: ModelCurves) -> dict:
    """pair → learning rate → width → {f1_mean, f1_std, final_f1_mean, f1_by_seed}: each
    model's best validation F1 over epochs, summarised over seeds."""
    out: dict = {}
    for key in sorted(curves.curves, key=lambda k: (k[0], k[2], k[1])):
        pair, hidden, lr = key
        best = curves.best(key)
        final = curves.curves[key]["val_f1"][:, -1]
        out.setdefault(pair, {}).setdefault(repr(lr), {})[str(hidden)] = {
            "f1_mean": float(np.nanmean(best)), "f1_std": float(np.nanstd(best)),
            "final_f1_mean": float(np.nanmean(final)),
            "f1_by_seed": {str(s): float(v) for s, v in zip(curves.seeds[key], best,
                                                            strict=True)}}
    return out


def report(inp: ReportInput) -> Section:
    """Summary key `sweep` (`sweep_table`), its figures and its table."""
    name = inp.protocol.name
    curves = model_curves(inp.store, plans(inp.cfg, inp.protocol))
    result = sweep_table(curves)
    if not result:
        return Section({"sweep": result})
    figures = [f1_by_width_figure(result, inp.figures, name),
               *curve_figures(curves, inp.figures, name)]
    rows = [[pair, float(lr), int(h), e["f1_mean"], e["f1_std"], len(e["f1_by_seed"])]
            for pair, lrs in result.items() for lr, widths in lrs.items()
            for h, e in widths.items()]
    trends = sweep_trends(result)
    trend_rows = [[pair, float(lr), t["shape"], f"{t['best']:g}", t["reason"]]
                  for pair, lrs in trends.items() for lr, t in lrs.items()]
    return Section({"sweep": result, "sweep_trends": trends}, figures, (
        "<h3>Sweep: best validation F1 by pair, learning rate and width</h3><p>Each model's "
        "best validation F1 over its epochs; mean and standard deviation over seeds (the "
        "population standard deviation, ddof 0).</p>"
        + table(["pair", "learning rate", "hidden", "F1 mean", "F1 std", "seeds"], rows)
        + "<p>The shape of F1 over every width (lowcap.report.trends; practical threshold "
        f"{MIN_EFFECT_F1:g} F1):</p>"
        + table(["pair", "learning rate", "shape", "best width", "why"], trend_rows)))


def sweep_trends(result: dict) -> dict:
    """Summary key `sweep_trends`: pair → learning rate → the shape of best validation F1
    over the widths (`lowcap.report.trends.factor_trend`)."""
    return {pair: {lr: factor_trend({h: e["f1_by_seed"] for h, e in widths.items()},
                                    MIN_EFFECT_F1).as_dict()
                   for lr, widths in lrs.items()}
            for pair, lrs in result.items()}


def f1_by_width_figure(result: dict, folder: Path, protocol: str) -> Path:
    """Best validation F1 against width (log scale), one line per pair and learning rate,
    error bars = seed std."""
    fig, (ax,) = new_figure(width=7)
    widths_seen: set[int] = set()
    for pair, lrs in result.items():
        for lr, widths in lrs.items():
            hs = sorted(int(h) for h in widths)
            widths_seen |= set(hs)
            ax.errorbar(hs, [widths[str(h)]["f1_mean"] for h in hs],
                        yerr=[widths[str(h)]["f1_std"] for h in hs], marker="o", capsize=3,
                        label=f"{pair}, lr {float(lr):g}")
    ax.set(xscale="log", xlabel="hidden units", ylabel="best validation F1",
           title=f"Sweep · F1 vs width ({protocol})")
    ax.set_xticks(sorted(widths_seen))
    ax.minorticks_off()
    ax.get_xaxis().set_major_formatter("{x:g}")
    ax.legend(fontsize=8)
    return save_figure(fig, folder, f"sweep_f1_by_width_{protocol}")


def curve_figures(curves: ModelCurves, folder: Path, protocol: str) -> list[Path]:
    """Per pair: validation F1 against epoch, one panel per learning rate (at most
    `MAX_CURVE_PANELS`), one line per width with its seed band."""
    paths = []
    for pair in sorted({k[0] for k in curves.curves}):
        lrs = sorted({k[2] for k in curves.curves if k[0] == pair})[:MAX_CURVE_PANELS]
        fig, axes = new_figure(ncols=len(lrs), width=4.5)
        for ax, lr in zip(axes, lrs, strict=True):
            for key in sorted((k for k in curves.curves if k[0] == pair and k[2] == lr),
                              key=lambda k: k[1]):
                runs = curves.curves[key]["val_f1"]
                band(ax, np.arange(1, runs.shape[1] + 1), runs, f"h={key[1]}")
            ax.set(xlabel="epoch", ylabel="validation F1", title=f"{pair}, lr {lr:g}")
        axes[0].legend(fontsize=7, ncol=2)
        fig.suptitle(f"Sweep · training curves, {pair} ({protocol})")
        paths.append(save_figure(fig, folder, f"sweep_curves_{pair}_{protocol}"))
    return paths
