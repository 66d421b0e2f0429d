"""The adversarial-robustness section: robust test F1 by width under each attack and ε, and
whether capacity alone buys robustness."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from lowcap.report.html import table
from lowcap.report.plotting import new_figure, save_figure, width_axis
from lowcap.report.tables import results_by_model
from lowcap.studies.base import ReportInput, Section
from lowcap.studies.selection import Selection

LABELS = {"clean": "clean", "fgsm": "FGSM (ℓ∞)", "pgd_linf": "PGD ℓ∞", "pgd_l2": "PGD ℓ2"}


def summary(inp: ReportInput) -> dict:
    """Summary key `adversarial`: test F1 and accuracy per attack, ε and width (means over
    pairs and seeds), and the F1 per (pair, attack, ε, width, seed), which the claim reads."""
    spec = inp.cfg.adversarial
    plans = Selection(spec.select).plans(inp.cfg, inp.protocol)
    by_id = {p.model_id: p for p in plans}
    by_seed: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    lipschitz: dict = defaultdict(lambda: defaultdict(dict))
    pooled: dict = defaultdict(list)
    sizes: dict[str, float] = {}
    for model_id, rows in results_by_model(inp.store, "adversarial", plans).items():
        plan = by_id[model_id]
        for row in rows:
            value = np.nan if row["value"] is None else row["value"]
            attack, eps = row["params"]["attack"], f"{row['params']['eps']:g}"
            if row["metric"] == "lipschitz":
                lipschitz[plan.pair_key][str(plan.hidden)][str(plan.seed)] = value
                continue
            if row["metric"] == "parameters":
                sizes[str(plan.hidden)] = value
                continue
            pooled[(row["metric"], attack, eps, plan.hidden)].append(value)
            if row["metric"] == "test_f1":
                cell = by_seed[plan.pair_key][f"{attack}@{eps}"][str(plan.hidden)]
                cell[str(plan.seed)] = value
    means: dict = {"test_f1": defaultdict(lambda: defaultdict(dict)),
                   "test_accuracy": defaultdict(lambda: defaultdict(dict))}
    for (metric, attack, eps, width), values in sorted(pooled.items(),
                                                       key=lambda kv: kv[0][3]):
        finite = [v for v in values if np.isfinite(v)]
        means[metric][attack][eps][str(width)] = float(np.mean(finite)) if finite else None
    by_width: dict[str, list[float]] = defaultdict(list)
    for widths in lipschitz.values():
        for width, seeds in widths.items():
            by_width[width] += [v for v in seeds.values() if np.isfinite(v)]
    return {"adversarial": {
        "images": spec.max_images, "steps": spec.steps, "rel_step": spec.rel_step,
        "min_effect": spec.min_effect, "lipschitz_min_effect": spec.lipschitz_min_effect,
        "parameters": sizes,
        "lipschitz": {w: float(np.mean(v)) for w, v in sorted(by_width.items(),
                                                              key=lambda kv: int(kv[0])) if v},
        "lipschitz_by_seed": {p: dict(w) for p, w in lipschitz.items()},
        "f1": {a: dict(e) for a, e in means["test_f1"].items()},
        "accuracy": {a: dict(e) for a, e in means["test_accuracy"].items()},
        "f1_by_seed": {p: {k: dict(w) for k, w in cells.items()}
                       for p, cells in by_seed.items()}}}


def _figure(section: dict, folder: Path, protocol: str) -> Path | None:
    attacks = [a for a in section["f1"] if a != "clean"]
    if not attacks:
        return None
    fig, axes = new_figure(len(attacks) + 1, 3.6, 3.0)
    _lipschitz_panel(axes.pop(), section)
    clean = section["f1"].get("clean", {}).get("0", {})
    for ax, name in zip(axes, attacks, strict=True):
        widths = sorted({int(w) for e in section["f1"][name].values() for w in e})
        ax.plot(widths, [clean.get(str(w), np.nan) for w in widths], "k--", label="clean")
        for eps, by_width in sorted(section["f1"][name].items(), key=lambda kv: float(kv[0])):
            ax.plot(widths, [by_width.get(str(w), np.nan) for w in widths], marker="o",
                    label=f"ε = {eps}")
        width_axis(ax, widths)
        ax.set_ylabel("test F1 under attack")
        ax.set_title(LABELS[name])
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7)
    return save_figure(fig, folder, f"figV1_adversarial_{protocol}")


def _lipschitz_panel(ax, section: dict) -> None:
    """Each width's mean empirical Lipschitz constant against its parameter count, beside
    Bubeck and Sellke's p^(-1/2) law through the narrowest model (the law's shape, not its
    constant)."""
    widths = [w for w in section["lipschitz"] if w in section["parameters"]]
    if not widths:
        return
    p = np.array([section["parameters"][w] for w in widths])
    lip = np.array([section["lipschitz"][w] for w in widths])
    ax.plot(p, lip, marker="o", label="measured (mean over models)")
    ax.plot(p, lip[0] * np.sqrt(p[0] / p), "k:", label="∝ p^(−1/2) (Bubeck & Sellke)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.minorticks_off()  # the minor ticks' labels of a short log range overlap
    shown = np.geomspace(min(lip.min(), lip[0] * np.sqrt(p[0] / p[-1])), lip.max(), 4)
    ax.set_yticks(shown, [f"{v:.3g}" for v in shown])
    ax.set_xlabel("parameters")
    ax.set_ylabel("max ‖∂f/∂x‖ over test images")
    ax.set_title("empirical Lipschitz constant")
    ax.legend(fontsize=7)


def report(inp: ReportInput) -> Section:
    """The F1 table by attack, ε and width, the figure, and the summary key."""
    result = summary(inp)
    section = result["adversarial"]
    if not section["f1"]:
        return Section()
    rows = [[LABELS[attack], eps, *(f"{v:.3f}" if v is not None else "—"
                                    for _, v in sorted(by_width.items(),
                                                       key=lambda kv: int(kv[0])))]
            for attack, by_eps in section["f1"].items() for eps, by_width in by_eps.items()]
    widths = sorted({int(w) for by_eps in section["f1"].values() for e in by_eps.values()
                     for w in e})
    figure = _figure(section, inp.figures, inp.protocol.name)
    html = (
        "<h3>Beyond §4.6: adversarial robustness by width</h3><p>Test F1 of each model on "
        f"{section['images']} of its test images attacked with its own gradients: FGSM (one "
        f"ℓ∞ step of size ε) and PGD ({section['steps']} projected steps of "
        f"{section['rel_step']:g} ε from a random start in the ℓ∞ or ℓ2 ball of radius ε; "
        "pixels in [0, 1]), means over pairs and seeds. Madry et al. (2018) found that "
        "capacity alone raises robustness a little; the claims check tests it here.</p>"
        + table(["attack", "ε", *(f"h={w}" for w in widths)], rows))
    return Section(result, [figure] if figure else [], html)
