"""Figures of the analyses: Fig 4 and B.1–B.4 (pruning), methods comparison, Table 1, Fig 5."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lowcap.experiments.checkpoints import load_tensors
from lowcap.report.plotting import new_figure, save_figure

# The paper's numbering of its pruning figures.
PRUNING_FIGURES = {"4-9": "fig4", "0-1": "figB1", "1-7": "figB2", "3-8": "figB3", "5-6": "figB4"}
METHOD_LABELS = {
    "layerwise": "layerwise magnitude (paper C.1)",
    "global": "global magnitude",
    "random": "random (baseline)",
    "layerwise_refscale": "reference code: fraction / 100",
    "layerwise_nearest": "layerwise, k = round(s·n) (torch)",
}


def pruning_figures(layerwise: dict, folder: Path, protocol: str) -> list[Path]:
    """Per pair: % change in validation F1 vs sparsity, one line per width, seed std band."""
    paths = []
    extra = 5
    for pair, widths in layerwise.items():
        name = PRUNING_FIGURES.get(pair)
        if name is None:
            name, extra = f"figB{extra}", extra + 1
        fig, (ax,) = new_figure()
        for hidden in sorted(widths, key=int):
            levels = sorted(widths[hidden], key=float)
            x = [float(level) for level in levels]
            mean = np.array([widths[hidden][lv]["pct_change_f1"] for lv in levels])
            std = np.array([widths[hidden][lv]["pct_change_std"] for lv in levels])
            line, = ax.plot(x, mean, marker=".", label=f"h={hidden}")
            ax.fill_between(x, mean - std, mean + std, alpha=0.15, color=line.get_color())
        ax.axhline(0, color="gray", lw=0.8)
        ax.set(xlabel="sparsity (fraction of weights pruned per layer)",
               ylabel="% change in validation F1", yscale="symlog",
               title=f"{name.replace('fig', 'Fig ')} · pruning, pair {pair} ({protocol})")
        ax.legend(fontsize=7, ncol=2)
        paths.append(save_figure(fig, folder, f"{name}_pruning_{pair}_{protocol}"))
    return paths


def methods_figure(table: dict, pair: str, hidden: str, folder: Path, protocol: str
                   ) -> Path | None:
    """F1 vs sparsity for every pruning method, one (pair, width)."""
    fig, (ax,) = new_figure()
    drawn = False
    for method, pairs in table.items():
        entry = pairs.get(pair, {}).get(hidden)
        if not entry:
            continue
        levels = sorted(entry, key=float)
        mean = np.array([entry[lv]["f1"] for lv in levels])
        std = np.array([entry[lv]["f1_std"] for lv in levels])
        x = [float(lv) for lv in levels]
        line, = ax.plot(x, mean, marker="o", label=METHOD_LABELS.get(method, method))
        ax.fill_between(x, mean - std, mean + std, alpha=0.15, color=line.get_color())
        drawn = True
    if not drawn:
        return None
    ax.set(xlabel="target sparsity", ylabel="validation F1",
           title=f"Pruning methods, pair {pair}, h={hidden} ({protocol})")
    ax.legend(fontsize=8)
    return save_figure(fig, folder, f"fig4b_pruning_methods_{protocol}")


TABLE1_COLUMNS = ["pair", "hidden", "seed", "dead (dense)", "dead (pruned)",
                  "disconnected (pruned)", "live (pruned)"]


def table1_row(row: dict) -> list:
    """Table 1's cells of one model ('—' where an older run did not count a column)."""
    return [row["pair"], row["hidden"], row["seed"], row["before"], row["after_95"],
            row.get("disconnected_after", "—"), row.get("live_after", "—")]


def dead_neurons_figure(rows: list[dict], folder: Path, protocol: str) -> Path | None:
    """Table 1 rendered as an image (None without rows: every model diverged)."""
    if not rows:
        return None
    fig, (ax,) = new_figure(height=0.4 + 0.3 * len(rows))
    ax.axis("off")
    cells = [table1_row(r) for r in rows]
    ax.table(cellText=cells, colLabels=TABLE1_COLUMNS, loc="center")
    ax.set_title(f"Table 1 · dead neurons ({protocol})")
    return save_figure(fig, folder, f"table1_dead_neurons_{protocol}")


def _score(scores: dict, key: str) -> str:
    """A score to three decimals; "n/a" where none could be computed (stored as null)."""
    value = scores.get(key)
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.3f}"


def tsne_figure(store_dir: Path, scores: dict, folder: Path, protocol: str) -> Path | None:
    """Fig 5: the embeddings side by side (dense, pruned, and the pruned model's live units
    alone), coloured by class, with their scores."""
    source = store_dir / f"tsne-{protocol}.safetensors"
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
