"""§4.1's learning-rate grid: its config section, models and report section."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from pydantic import Field, field_validator

from lowcap.report.plotting import new_figure, save_figure
from lowcap.report.tables import ModelCurves, model_curves
from lowcap.run.config import (
    ConfigSection,
    Pair,
    ProtocolConfig,
    RunConfig,
    parse_pair,
    positive_lrs,
)
from lowcap.run.plan import ModelPlan, grid
from lowcap.studies.base import ReportInput, Section, section

PAPER_LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)


class LRGridConfig(ConfigSection):
    """§4.1: one pair, every width × learning rate × seed."""

    # The pair the grid trains on.
    pair: Pair = (4, 9)
    # Learning rates tried at every width.
    learning_rates: list[float] = Field(default=list(PAPER_LRS), min_length=1)

    _pair = field_validator("pair", mode="before")(parse_pair)
    _lrs = field_validator("learning_rates")(positive_lrs)


def plans(cfg: RunConfig, protocol: ProtocolConfig) -> list[ModelPlan]:
    """Every width × learning rate × seed on the grid's pair (none without the section)."""
    spec = section(cfg, LRGridConfig)
    return ([] if spec is None
            else grid(cfg, protocol, [spec.pair], cfg.widths, spec.learning_rates))


def report(inp: ReportInput) -> Section:
    """F1 per learning rate and width (summary key `lr_grid`), Figs 1 and 2."""
    result = lr_grid_table(model_curves(inp.store, plans(inp.cfg, inp.protocol)))
    return Section({"lr_grid": result}, lr_figures(result, inp.figures, inp.protocol.name),
                   f"<h3>§4.1 Learning rate grid</h3><p>Best learning rate (mean F1 over "
                   f"widths): {result['best_lr']}; the paper chose 0.03.</p>")


def lr_grid_table(curves: ModelCurves) -> dict:
    """F1 per learning rate and width (mean best validation F1 over seeds) and the best lr."""
    f1: dict[str, dict[str, float]] = defaultdict(dict)
    for key in sorted(curves.curves, key=lambda k: (k[2], k[1])):
        _pair, hidden, lr = key
        f1[repr(lr)][str(hidden)] = float(np.mean(curves.best(key)))
    means = {lr: np.nanmean(list(v.values())) for lr, v in f1.items()}
    best_lr = max(means, key=lambda lr: means[lr]) if means else None
    pair = next(iter(curves.curves))[0] if curves.curves else None
    return {"pair": pair, "best_lr": float(best_lr) if best_lr else None, "f1": dict(f1)}


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
