"""Figures of §4.6–4.7: Fig 6 (noise), Fig 7 (occlusion), MNIST-C, Fig D.1, Fig 8 (saliency)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lowcap.analyses.corruptions import corrupt
from lowcap.experiments.checkpoints import load_tensors
from lowcap.report.plotting import new_figure, save_figure


def gaussian_figure(table: dict, folder: Path, protocol: str) -> Path:
    """Fig 6: test F1 vs noise σ, one line per width, seed std band."""
    fig, (ax,) = new_figure()
    sigmas = sorted(table, key=float)
    for h in sorted({h for w in table.values() for h in w}, key=int):
        runs = np.array([list(table[s][h].values()) for s in sigmas], dtype=float).T
        # runs: [seeds, sigmas]
        x = [float(s) for s in sigmas]
        mean, std = np.nanmean(runs, 0), np.nanstd(runs, 0)
        line, = ax.plot(x, mean, marker="o", label=f"h={h}")
        ax.fill_between(x, mean - std, mean + std, alpha=0.2, color=line.get_color())
    ax.set(xlabel="Gaussian noise σ (clipped to [0, 1])", ylabel="test F1",
           title=f"Fig 6 · F1 under Gaussian noise ({protocol})")
    ax.legend()
    return save_figure(fig, folder, f"fig6_gaussian_{protocol}")


def occlusion_figure(table: dict, folder: Path, protocol: str,
                     paper: dict[str, float]) -> Path:
    """Fig 7: test F1 under 7×7 occlusion per width (mean ± seed std), paper's numbers marked."""
    (widths,) = table.values()
    hs = sorted(widths, key=int)
    fig, (ax,) = new_figure()
    means = [np.nanmean(list(widths[h].values())) for h in hs]
    stds = [np.nanstd(list(widths[h].values())) for h in hs]
    ax.bar(range(len(hs)), means, yerr=stds, capsize=4, label="lowcap")
    ax.scatter([i for i, h in enumerate(hs) if h in paper], [paper[h] for h in hs if h in paper],
               color="red", zorder=3, label="paper")
    ax.set_xticks(range(len(hs)), [f"h={h}" for h in hs])
    shown = [v for v in means + list(paper.values()) if np.isfinite(v)]  # NaN: no F1
    ax.set(ylabel="test F1 (occluded)", ylim=(min(shown, default=0.05) - 0.05, 1.0),
           title=f"Fig 7 · 7×7 occlusion ({protocol})")
    ax.legend()
    return save_figure(fig, folder, f"fig7_occlusion_{protocol}")


def mnist_c_figure(table: dict, folder: Path, protocol: str) -> Path | None:
    """Test F1 vs severity for each MNIST-C-style corruption, one line per width."""
    names = [n for n in table if n not in ("gaussian", "occlusion")]
    if not names:
        return None
    fig, axes = new_figure(ncols=len(names), width=3.2, height=3.2)
    for ax, name in zip(axes, names, strict=True):
        severities = sorted(table[name], key=float)
        for h in sorted({h for w in table[name].values() for h in w}, key=int):
            ax.plot([int(float(s)) for s in severities],
                    [np.nanmean(list(table[name][s][h].values())) for s in severities], marker=".",
                    label=f"h={h}")
        ax.set(title=name, xlabel="severity")
    axes[0].set_ylabel("test F1")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"MNIST-C-style corruptions ({protocol})")
    return save_figure(fig, folder, f"figR_mnist_c_{protocol}")


def corruption_examples(image: torch.Tensor, folder: Path, seed: int) -> Path:
    """Fig D.1: an image, the same with σ = 0.3 noise, and with a 7×7 occlusion."""
    x = image.reshape(1, 784)
    panels = [("original", x), ("Gaussian σ = 0.3", corrupt(x, "gaussian", 0.3, seed)),
              ("7×7 occlusion", corrupt(x, "occlusion", 7, seed))]
    fig, axes = new_figure(ncols=3, width=2.6, height=2.8)
    for ax, (title, img) in zip(axes, panels, strict=True):
        ax.imshow(img.reshape(28, 28).cpu().numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title)
        ax.axis("off")
    fig.suptitle("Fig D.1 · input corruptions")
    return save_figure(fig, folder, "figD1_corruption_examples")


def saliency_figures(store_dir: Path, folder: Path, protocol: str) -> list[Path]:
    """Fig 8 (finite-difference maps of the four panels) and the attribution methods compared
    on the first panel's image (finite difference, |gradient|, integrated gradients)."""
    source = store_dir / f"saliency-{protocol}.safetensors"
    if not source.exists():
        return []
    data = load_tensors(source)
    titles = ["correct first digit", "correct second digit", "first digit taken for second",
              "correct first digit, 95% pruned"]
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
    fig.suptitle(f"Fig 8 · finite-difference saliency, ε = 0.01 ({protocol})")
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
