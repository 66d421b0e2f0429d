"""The ablation's figures: the verdict grid, the main effects, min capacity per cell."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lowcap.report.plotting import new_figure, save_figure

# One colour bin each (a 4-colour map over [0, 1]).
VERDICT_VALUE = {"does not hold": 0.0, "inconclusive": 1 / 3, "negligible": 2 / 3, "holds": 1.0}


def verdict_figure(entries: list[dict], claims: list[str], folder: Path) -> Path:
    """Claims × cells (then the anchors): green holds, red does not hold, grey
    inconclusive, yellow negligible (supported, below the practical threshold)."""
    grid = np.array([[VERDICT_VALUE[e["verdicts"].get(c, "inconclusive")] for e in entries]
                     for c in claims])
    fig, (ax,) = new_figure(width=max(6.0, 0.45 * len(entries) + 3),
                            height=0.45 * len(claims) + 2.5)
    from matplotlib.colors import ListedColormap  # loaded with the figure (pyplot())

    colours = ListedColormap(["#d9534f", "#cccccc", "#f0ad4e", "#5cb85c"])  # VERDICT_VALUE order
    ax.imshow(grid, cmap=colours, vmin=0, vmax=1, aspect="auto")
    anchors = sum(not e["levels"] for e in entries)
    if anchors:  # the run's own protocols, right of the cells
        ax.axvline(len(entries) - anchors - 0.5, color="black", lw=2)
    ax.set_xticks(range(len(entries)), [e["name"] for e in entries], rotation=70, ha="right",
                  fontsize=7)
    ax.set_yticks(range(len(claims)), claims, fontsize=7)
    ax.set_title("Ablation · verdict per claim and cell (green holds, red does not, grey "
                 "inconclusive, yellow negligible)", fontsize=9)
    return save_figure(fig, folder, "figE1_ablation_verdicts")


def effects_figure(claims: dict[str, dict], folder: Path) -> Path:
    """Per claim: each factor's mean change of the claim's quantity, 95% interval, and how
    many comparisons flip the verdict."""
    ncols = min(3, max(1, len(claims)))
    nrows = max(1, math.ceil(len(claims) / ncols))
    fig, axes = new_figure(ncols=ncols, nrows=nrows, width=4.2, height=3.2)
    for ax, (claim, entry) in zip(axes, claims.items(), strict=False):
        factors = list(entry["effects"])
        means = np.array([entry["effects"][f]["mean_change"] for f in factors])
        cis = np.array([entry["effects"][f]["ci"] for f in factors])
        err = np.abs(np.nan_to_num(cis.T - means))
        ax.bar(range(len(factors)), np.nan_to_num(means), yerr=err, capsize=3,
               color="#69c")
        for i, f in enumerate(factors):
            e = entry["effects"][f]
            ax.annotate(f"{e['flips']}/{e['comparisons']}", (i, 0), ha="center", fontsize=7,
                        xytext=(0, 3), textcoords="offset points")
        ax.axhline(0, color="gray", lw=0.8)
        ax.set_xticks(range(len(factors)), factors, fontsize=7, rotation=20)
        ax.set_title(claim, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    for ax in axes[len(claims):]:
        ax.axis("off")
    fig.suptitle("Ablation · main effect of each factor (second level − first; 95% bootstrap "
                 "over seeds; k/n: comparisons that flip the verdict)", fontsize=9)
    return save_figure(fig, folder, "figE2_ablation_effects")


def min_capacity_figure(entries: list[dict], pairs: list[str], folder: Path) -> Path:
    """Pairs × cells: the minimum capacity (blank where no width meets the rule)."""
    values = np.array([[np.nan if e["min_capacity"].get(p) is None else
                        math.log2(e["min_capacity"][p]) for e in entries] for p in pairs])
    fig, (ax,) = new_figure(width=max(6.0, 0.45 * len(entries) + 3),
                            height=0.5 * len(pairs) + 2.5)
    ax.imshow(values, cmap="viridis", aspect="auto")
    for i, p in enumerate(pairs):
        for j, e in enumerate(entries):
            h = e["min_capacity"].get(p)
            ax.text(j, i, "none" if h is None else str(h), ha="center", va="center",
                    fontsize=7, color="white" if h is not None else "black")
    ax.set_xticks(range(len(entries)), [e["name"] for e in entries], rotation=70, ha="right",
                  fontsize=7)
    ax.set_yticks(range(len(pairs)), pairs)
    ax.set_title("Ablation · minimum capacity per cell (colour: log2 width)", fontsize=9)
    return save_figure(fig, folder, "figE3_ablation_min_capacity")
