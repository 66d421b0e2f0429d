"""Fig 3 (minimum capacity) and Figs A.1–A.5 (training dynamics)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lowcap.report.plotting import band, new_figure, save_figure
from lowcap.report.tables import ModelCurves

# The paper's appendix numbers its training-dynamics figures in this order.
APPENDIX_A_ORDER = ("0-1", "5-6", "1-7", "3-8", "4-9")


def capacity_figure(table: dict, folder: Path, protocol: str, min_f1: float) -> Path:
    """Fig 3: mean best F1 vs width ± seed std, one line per pair; beside it, the minimum
    capacity's distribution over resampled seeds (P(min = h), 'none' at the right)."""
    fig, (ax, ax_p) = new_figure(ncols=2)
    all_widths = sorted({int(h) for e in table.values() for h in e["f1_mean"]})
    for pair, entry in table.items():
        widths = sorted(int(h) for h in entry["f1_mean"])
        mean = [entry["f1_mean"][str(h)] for h in widths]
        std = [entry["f1_std"][str(h)] for h in widths]
        line = ax.errorbar(widths, mean, yerr=std, marker="o", capsize=3,
                           label=f"{pair} (min h={entry['min_hidden']})")
        p = entry.get("min_hidden_p", {})
        ax_p.plot(range(len(all_widths) + 1),
                  [p.get(str(h), 0.0) for h in all_widths] + [p.get("none", 0.0)],
                  marker="o", color=line[0].get_color(), label=pair)
    ax.axhline(min_f1, ls="--", color="gray", lw=1)
    ax.set(xscale="log", xlabel="hidden units", ylabel="best validation F1",
           title=f"Fig 3 · F1 vs hidden size ({protocol})")
    ax.set_xticks(all_widths)
    ax.minorticks_off()
    ax.get_xaxis().set_major_formatter("{x:g}")
    ax.legend(fontsize=8)
    ax_p.set_xticks(range(len(all_widths) + 1), [*map(str, all_widths), "none"])
    ax_p.set(xlabel="minimum capacity h", ylabel="P(min = h), seeds resampled", ylim=(0, 1.05),
             title="Minimum capacity over seeds (bootstrap)")
    ax_p.legend(fontsize=8)
    return save_figure(fig, folder, f"fig3_capacity_{protocol}")


def dynamics_figures(curves: ModelCurves, folder: Path, protocol: str, split: str
                     ) -> list[Path]:
    """Figs A.x: per pair, F1 and loss vs epoch on `split`, one line per width, seed bands."""
    pairs = sorted({k[0] for k in curves.curves},
                   key=lambda p: (*APPENDIX_A_ORDER, p).index(p))
    paths = []
    extra = len(APPENDIX_A_ORDER) + 1
    for pair in pairs:
        if pair in APPENDIX_A_ORDER:
            number = APPENDIX_A_ORDER.index(pair) + 1
        else:
            number, extra = extra, extra + 1
        fig, (ax_f1, ax_loss) = new_figure(ncols=2)
        keys = sorted((k for k in curves.curves if k[0] == pair), key=lambda k: k[1])
        for key in keys:
            runs = curves.curves[key]
            epochs = np.arange(1, runs[f"{split}_f1"].shape[1] + 1)
            band(ax_f1, epochs, runs[f"{split}_f1"], f"h={key[1]}")
            band(ax_loss, epochs, runs[f"{split}_loss"], f"h={key[1]}")
        ax_f1.set(xlabel="epoch", ylabel=f"{split} F1", title=f"Fig A.{number} · {pair} F1")
        ax_loss.set(xlabel="epoch", ylabel=f"{split} loss", yscale="log",
                    title=f"{pair} loss ({protocol})")
        ax_f1.legend(fontsize=7, ncol=2)
        paths.append(save_figure(fig, folder, f"figA{number}_dynamics_{pair}_{protocol}"))
    return paths
