"""Figures of the training phases: Fig 1, Fig 2 (LR grid), Fig 3, Figs A.1–A.5 (capacity)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lowcap.report.plotting import band, new_figure, save_figure
from lowcap.report.tables import ModelCurves

# The paper's appendix numbers its training-dynamics figures in this order.
APPENDIX_A_ORDER = ("0-1", "5-6", "1-7", "3-8", "4-9")


def lr_figures(table: dict, folder: Path, protocol: str) -> list[Path]:
    """Fig 1 (F1 vs learning rate, one line per width) and Fig 2 (width × lr heatmap)."""
    lrs = sorted(table["f1"], key=float)
    widths = sorted({int(h) for row in table["f1"].values() for h in row})
    grid = np.array([[table["f1"][lr].get(str(h), np.nan) for lr in lrs] for h in widths])
    fig, (ax,) = new_figure()
    for h, row in zip(widths, grid, strict=True):
        ax.plot([float(lr) for lr in lrs], row, marker="o", label=f"h={h}")
    ax.set(xscale="log", xlabel="learning rate", ylabel="best validation F1 (mean over seeds)",
           title=f"Fig 1 · F1 vs learning rate, pair {table['pair']} ({protocol})")
    ax.legend(fontsize=7, ncol=2)
    paths = [save_figure(fig, folder, f"fig1_lr_f1_{protocol}")]
    fig, (ax,) = new_figure(width=7)
    image = ax.imshow(grid, aspect="auto", cmap="viridis", origin="lower")
    ax.set_xticks(range(len(lrs)), [f"{float(lr):g}" for lr in lrs])
    ax.set_yticks(range(len(widths)), [str(h) for h in widths])
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=6,
                    color="white")
    ax.set(xlabel="learning rate", ylabel="hidden units",
           title=f"Fig 2 · F1 heatmap, pair {table['pair']} ({protocol})")
    fig.colorbar(image, ax=ax, label="F1")
    paths.append(save_figure(fig, folder, f"fig2_lr_heatmap_{protocol}"))
    return paths


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
