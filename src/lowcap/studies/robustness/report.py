"""§4.6's report section: F1 under noise, occlusion and MNIST-C-style corruptions by width;
Figs 6, 7, D.1 and the MNIST-C grid."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from lowcap.report.html import table
from lowcap.report.plotting import new_figure, save_figure
from lowcap.report.tables import results_by_model
from lowcap.run.checkpoints import load_tensors
from lowcap.run.plan import ModelPlan
from lowcap.run.store import Store
from lowcap.studies.base import ReportInput, Section
from lowcap.studies.robustness.compute import CORRUPTION_EXAMPLE, robustness_settings
from lowcap.studies.robustness.corruptions import PARITY, corrupt
from lowcap.studies.robustness.mnist_c import DEFAULT_SEVERITY
from lowcap.studies.selection import at_pair_and_widths

MNIST_C_COLUMNS = 4
# What the paper states for (4, 9) under 7×7 occlusion, shown beside our numbers.
PAPER_OCCLUSION = {"24": 0.847, "48": 0.860, "64": 0.862}


def _table(inp: ReportInput) -> tuple[dict, str]:
    """The stored results of the section's models, and their pair."""
    spec = inp.cfg.robustness
    plans = at_pair_and_widths(spec).plans(inp.cfg, inp.protocol)
    result = robustness_table(inp.store, plans, set(robustness_settings(spec)))
    return result, plans[0].pair_key if plans else ""


def summary(inp: ReportInput) -> dict:
    """Summary key `robustness` (`robustness_summary`; none without results)."""
    result, pair = _table(inp)
    return {"robustness": robustness_summary(result, pair)} if result else {}


def report(inp: ReportInput) -> Section:
    """Summary key `robustness` (`robustness_summary`); Figs 6 and 7 and the MNIST-C grid."""
    spec, name = inp.cfg.robustness, inp.protocol.name
    result, pair = _table(inp)
    if not result:
        return Section()
    paper = PAPER_OCCLUSION if pair == "4-9" and spec.occlusion_size == 7 else {}
    figures = [gaussian_figure(result["gaussian"], inp.figures, name),
               occlusion_figure(result["occlusion"], inp.figures, name, paper)]
    path = mnist_c_figure(result, inp.figures, name)
    figures += [path] if path else []
    summary = robustness_summary(result, pair)
    occ = summary["occlusion"]
    rows = [[h, occ[h], paper.get(h, "—")] for h in sorted(occ, key=int)]
    html = ("<h3>§4.6 Robustness (test split, same corrupted images for every model)</h3>"
            + table(["hidden", "occlusion F1 (ours)", "paper"], rows))
    if "mnist_c_parity" in summary:
        figures.append(parity_figure(summary["mnist_c_parity"], inp.figures, name))
        html += parity_html(summary["mnist_c_parity"])
    return Section({"robustness": summary}, figures, html)


def parity_html(parity: dict) -> str:
    """The MNIST-C table (corruptions × widths) and its reading in words."""
    widths = sorted(parity["mean"], key=int)
    rows = [[name, "—" if parity["severity"].get(name) is None else parity["severity"][name],
             *[values.get(h) for h in widths]]
            for name, values in [("clean", parity["clean"]), *parity["f1"].items(),
                                 ("mean over corruptions", parity["mean"])]]
    hardest = min(parity["f1"], key=lambda n: np.nanmean(list(parity["f1"][n].values())))
    drops = ", ".join(f"h={h}: {parity['drop'][h]:.3f}" for h in widths if h in parity["drop"])
    return ("<h4>MNIST-C parity (the paper's future work)</h4><p>The corruptions of MNIST-C "
            "(Mu &amp; Gilmer 2019) as its published code makes them, each at that code's "
            f"default severity, on the same test images. Drop from clean to the mean over "
            f"{len(parity['f1'])} corruptions: {drops}; hardest: {hardest}.</p>"
            + table(["corruption", "severity", *[f"h={h}" for h in widths]], rows))


def run_report(inp: ReportInput) -> Section:
    """Fig D.1, from the clean image the compute stored (the report loads no MNIST)."""
    example = inp.store.artefact(CORRUPTION_EXAMPLE)
    if not example.is_file():
        return Section()
    spec = inp.cfg.robustness
    return Section(figures=[corruption_examples(load_tensors(example)["image"], inp.figures,
                                                spec.seed, spec.occlusion_size)])


def robustness_table(store: Store, plans: list[ModelPlan], settings: set[tuple]) -> dict:
    """Test F1 under each corruption: corruption → parameter → width → seed → value, for the
    configured (corruption, parameter, severity) settings only."""
    hidden = {p.model_id: p.hidden for p in plans}
    seed = {p.model_id: str(p.seed) for p in plans}
    table: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for rows in results_by_model(store, "robustness", plans).values():
        for row in rows:
            p = row["params"]
            if (row["metric"] == "test_f1"
                    and (p["corruption"], p["parameter"], p["severity"]) in settings):
                key = p["severity"] if p["severity"] else p["parameter"]
                table[p["corruption"]][repr(key)][str(hidden[row["model_id"]])][
                    seed[row["model_id"]]] = np.nan if row["value"] is None else row["value"]
    return {c: {k: dict(w) for k, w in params.items()} for c, params in table.items()}


def robustness_summary(table: dict, pair: str) -> dict:
    """The contract's robustness key: mean test F1 over seeds per width and σ / occlusion, and
    each seed's own value (`gaussian_by_seed`, `occlusion_by_seed`: the claims pair widths by
    seed)."""
    def mean(values: dict[str, float]) -> float:
        return float(np.nanmean(list(values.values())))

    out: dict = {"pair": pair, "split": "test",
                 "gaussian": defaultdict(dict), "occlusion": {}, "occlusion_std": {},
                 "gaussian_by_seed": defaultdict(dict), "occlusion_by_seed": {},
                 "mnist_c": defaultdict(lambda: defaultdict(dict))}
    for sigma, widths in table.get("gaussian", {}).items():
        for h, values in widths.items():
            out["gaussian"][h][sigma] = mean(values)
            out["gaussian_by_seed"][h][sigma] = values
    for widths in table.get("occlusion", {}).values():
        for h, values in widths.items():
            out["occlusion"][h] = mean(values)
            out["occlusion_std"][h] = float(np.nanstd(list(values.values())))
            out["occlusion_by_seed"][h] = values
    for name, severities in table.items():
        if name in ("gaussian", "occlusion") or name.startswith(PARITY):
            continue
        for severity, widths in severities.items():
            for h, values in widths.items():
                out["mnist_c"][name][h][severity] = mean(values)
    out["gaussian"] = dict(out["gaussian"])
    out["gaussian_by_seed"] = dict(out["gaussian_by_seed"])
    out["mnist_c"] = {k: dict(v) for k, v in out["mnist_c"].items()}
    parity = parity_summary(table)
    return {**out, "mnist_c_parity": parity} if parity else out


def parity_summary(table: dict) -> dict:
    """MNIST-C as published: each corruption's default severity (null: it has none), the clean
    test F1 per width, each corruption's, their mean over corruptions and the drop from clean
    (means over seeds)."""
    names = [n.removeprefix(PARITY) for n in table
             if n.startswith(PARITY) and n != PARITY + "identity"]
    if not names:
        return {}

    def per_width(name: str) -> dict[str, float]:
        ((_, widths),) = table[PARITY + name].items()
        return {h: float(np.nanmean(list(v.values()))) for h, v in widths.items()}

    f1 = {name: per_width(name) for name in names}
    clean = per_width("identity") if PARITY + "identity" in table else {}
    widths = sorted({h for v in f1.values() for h in v}, key=int)
    mean = {h: float(np.nanmean([f1[n].get(h, np.nan) for n in names])) for h in widths}
    return {"severity": {n: DEFAULT_SEVERITY[n] for n in names}, "clean": clean, "f1": f1,
            "mean": mean, "drop": {h: clean[h] - mean[h] for h in widths if h in clean}}


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
    """Fig 7: test F1 under k×k occlusion per width (mean ± seed std), paper's numbers marked."""
    ((size, widths),) = table.items()
    side = int(float(size))
    hs = sorted(widths, key=int)
    fig, (ax,) = new_figure()
    means = [np.nanmean(list(widths[h].values())) for h in hs]
    stds = [np.nanstd(list(widths[h].values())) for h in hs]
    ax.bar(range(len(hs)), means, yerr=stds, capsize=4, label="lowcap")
    ax.scatter([i for i, h in enumerate(hs) if h in paper], [paper[h] for h in hs if h in paper],
               color="red", zorder=3, label="paper")
    ax.set_xticks(range(len(hs)), [f"h={h}" for h in hs])
    ax.set(ylabel="test F1 (occluded)", ylim=(0.0, 1.0),  # zero-based: bars compare honestly
           title=f"Fig 7 · {side}×{side} occlusion ({protocol})")
    ax.legend()
    return save_figure(fig, folder, f"fig7_occlusion_{protocol}")


def parity_figure(parity: dict, folder: Path, protocol: str) -> Path:
    """MNIST-C as published: test F1 per corruption (rows) and width (columns), with the clean
    and mean rows."""
    widths = sorted(parity["mean"], key=int)
    rows = [("clean", parity["clean"]), *parity["f1"].items(), ("mean", parity["mean"])]
    values = np.array([[row.get(h, np.nan) for h in widths] for _, row in rows])
    fig, (ax,) = new_figure(width=1.2 * len(widths) + 2.5, height=0.3 * len(rows) + 1.2)
    image = ax.imshow(values, cmap="viridis", vmin=0.5, vmax=1.0, aspect="auto")
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                color="white" if value < 0.8 else "black")
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
