"""§4.6's figures: Fig 6 (F1 under noise), Fig 7 (occlusion), the MNIST-C grids and Fig D.1
(the corruptions themselves)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lowcap.report.plotting import new_figure, save_figure
from lowcap.studies.robustness.corruptions import PARITY, corrupt

MNIST_C_COLUMNS = 4


def constant_line(ax, constant: float | None) -> None:
    """The F1 an always-positive model scores: where collapsed models sit."""
    if constant is not None:
        ax.axhline(constant, ls="--", lw=1, color="black",
                   label=f"constant predictor ({constant:.3f})")


def gaussian_figure(table: dict, folder: Path, protocol: str,
                    constant: float | None = None) -> Path:
    """Fig 6: test F1 vs noise σ, one line per width (mean, seed std band, and each seed's own
    thin line)."""
    fig, (ax,) = new_figure()
    sigmas = sorted(table, key=float)
    for h in sorted({h for w in table.values() for h in w}, key=int):
        runs = np.array([list(table[s][h].values()) for s in sigmas], dtype=float).T
        # runs: [seeds, sigmas]
        x = [float(s) for s in sigmas]
        mean, std = np.nanmean(runs, 0), np.nanstd(runs, 0)
        line, = ax.plot(x, mean, marker="o", label=f"h={h}")
        ax.fill_between(x, mean - std, mean + std, alpha=0.2, color=line.get_color())
        for run in runs:  # every seed: a collapsed seed shows, not only the band
            ax.plot(x, run, lw=0.5, alpha=0.4, color=line.get_color())
    constant_line(ax, constant)
    ax.set(xlabel="Gaussian noise σ (clipped to [0, 1])", ylabel="test F1",
           title=f"Fig 6 · F1 under Gaussian noise ({protocol})")
    ax.legend()
    return save_figure(fig, folder, f"fig6_gaussian_{protocol}")


def occlusion_figure(table: dict, folder: Path, protocol: str,
                     paper: dict[str, float], constant: float | None = None) -> Path:
    """Fig 7: test F1 under k×k occlusion per width: every seed as a point (a bimodal spread
    shows), the mean ± seed std beside them, the paper's numbers only where they apply. The
    y axis is scaled to the data (not from 0: the title says so)."""
    ((size, widths),) = table.items()
    side = int(float(size))
    hs = sorted(widths, key=int)
    fig, (ax,) = new_figure()
    for i, h in enumerate(hs):
        seeds = np.array(list(widths[h].values()), dtype=float)
        ax.scatter(i + np.linspace(-0.12, 0.12, len(seeds)), seeds, s=12, color="grey",
                   alpha=0.7, label="one seed" if i == 0 else None)
    means = [np.nanmean(list(widths[h].values())) for h in hs]
    stds = [np.nanstd(list(widths[h].values())) for h in hs]
    ax.errorbar(np.arange(len(hs)) + 0.25, means, yerr=stds, fmt="o", capsize=4,
                label="mean ± std over seeds")
    if paper:
        ax.scatter([i for i, h in enumerate(hs) if h in paper],
                   [paper[h] for h in hs if h in paper], color="red", marker="x", zorder=3,
                   label="paper")
    lowest = min(np.nanmin(list(widths[h].values())) for h in hs)
    constant_line(ax, constant if constant is not None and lowest < constant + 0.1 else None)
    ax.set_xticks(range(len(hs)), [f"h={h}" for h in hs])
    ax.set(ylabel="test F1 (occluded)",
           title=f"Fig 7 · {side}×{side} occlusion ({protocol}; y axis not from 0)")
    ax.legend()
    return save_figure(fig, folder, f"fig7_occlusion_{protocol}")


def parity_figure(parity: dict, folder: Path, protocol: str) -> Path:
    """MNIST-C as published: test F1 per corruption (rows) and width (columns), with the clean
    and mean rows."""
    widths = sorted(parity["mean"], key=int)
    rows = [("clean", parity["clean"]), *parity["f1"].items(), ("mean", parity["mean"])]
    values = np.array([[row.get(h, np.nan) for h in widths] for _, row in rows])
    fig, (ax,) = new_figure(width=1.2 * len(widths) + 2.5, height=0.3 * len(rows) + 1.2)
    image = ax.imshow(values, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                color="white" if value < 0.6 else "black")
    ax.set_xticks(range(len(widths)), [f"h={h}" for h in widths])
    ax.set_yticks(range(len(rows)), [name for name, _ in rows])
    fig.colorbar(image, ax=ax, label="test F1")
    ax.set_title(f"MNIST-C at its published default severities ({protocol})")
    return save_figure(fig, folder, f"figR_mnist_c_parity_{protocol}")


def mnist_c_figure(table: dict, folder: Path, protocol: str) -> Path | None:
    """Test F1 vs severity for each MNIST-C-style corruption, one line per width."""
    names = [n for n in table if n not in ("gaussian", "occlusion") and not n.startswith(PARITY)]
    if not names:
        return None
    ncols = min(len(names), MNIST_C_COLUMNS)  # legible at page width: rows of four panels
    fig, axes = new_figure(ncols=ncols, width=3.4, height=3.0, nrows=-(-len(names) // ncols))
    for ax in axes[len(names):]:
        ax.axis("off")
    for ax, name in zip(axes, names, strict=False):
        severities = sorted(table[name], key=float)
        for h in sorted({h for w in table[name].values() for h in w}, key=int):
            ax.plot([int(float(s)) for s in severities],
                    [np.nanmean(list(table[name][s][h].values())) for s in severities], marker=".",
                    label=f"h={h}")
        ax.set(title=name, xlabel="severity")
    for row_start in range(0, len(names), ncols):
        axes[row_start].set_ylabel("test F1")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"MNIST-C-style corruptions ({protocol})")
    return save_figure(fig, folder, f"figR_mnist_c_{protocol}")


def corruption_examples(image: torch.Tensor, folder: Path, seed: int, side: int = 7) -> Path:
    """Fig D.1: an image, the same with σ = 0.3 noise, and with a side × side occlusion."""
    x = image.reshape(1, 784)
    panels = [("original", x), ("Gaussian σ = 0.3", corrupt(x, "gaussian", 0.3, seed)),
              (f"{side}×{side} occlusion", corrupt(x, "occlusion", side, seed))]
    fig, axes = new_figure(ncols=3, width=2.6, height=2.8)
    for ax, (title, img) in zip(axes, panels, strict=True):
        ax.imshow(img.reshape(28, 28).cpu().numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title)
        ax.axis("off")
    fig.suptitle("Fig D.1 · input corruptions")
    return save_figure(fig, folder, "figD1_corruption_examples")
