"""The adversarial-robustness section: robust test F1 by width under each attack and ε, and
whether capacity alone buys robustness."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from lowcap.report.html import table
from lowcap.report.plotting import new_figure, save_figure, width_axis
from lowcap.report.tables import results_by_model
from lowcap.studies.adversarial.compute import twins
from lowcap.studies.base import ReportInput, Section
from lowcap.studies.selection import Selection

LABELS = {"clean": "clean", "fgsm": "FGSM (ℓ∞)", "pgd_linf": "PGD ℓ∞", "pgd_l2": "PGD ℓ2"}


def summary(inp: ReportInput) -> dict:
    """Summary key `adversarial`: test F1 and accuracy per attack, ε and width (means over
    pairs and seeds), and the F1 per (pair, attack, ε, width, seed), which the claims read;
    with `training`, the same for the PGD-trained twins (`pgd_trained`) and, per (pair,
    width, seed), the twin's clean test F1 minus its naturally trained model's
    (`clean_change_by_seed`)."""
    spec = inp.cfg.adversarial
    plans = Selection(spec.select).plans(inp.cfg, inp.protocol)
    section = {"images": spec.max_images, "steps": spec.steps, "rel_step": spec.rel_step,
               "min_effect": spec.min_effect,
               "lipschitz_min_effect": spec.lipschitz_min_effect,
               **_measured(inp, plans)}
    trained = twins(inp.cfg, inp.protocol)
    if trained:
        twin = _measured(inp, trained)
        section["training"] = spec.training.model_dump(mode="json", exclude={"pairs", "widths"})
        section["pgd_trained"] = twin
        section["clean_change_by_seed"] = _clean_change(section, twin)
    return {"adversarial": section}


def _clean_change(natural: dict, trained: dict) -> dict:
    """Per (pair, width, seed): clean test F1 of the PGD-trained twin minus the natural
    model's, where both are measured."""
    change: dict = defaultdict(dict)
    for pair, cells in trained["f1_by_seed"].items():
        for width, seeds in cells.get("clean@0", {}).items():
            ours = natural["f1_by_seed"].get(pair, {}).get("clean@0", {}).get(width, {})
            diffs = {seed: v - ours[seed] for seed, v in seeds.items()
                     if seed in ours and np.isfinite(v) and np.isfinite(ours[seed])}
            if diffs:
                change[pair][width] = diffs
    return dict(change)


def _measured(inp: ReportInput, plans: list) -> dict:
    """The stored numbers of `plans`' models: means by attack, ε and width, per seed, their
    Lipschitz constants and sizes, and per width how many give one answer for every clean
    test image (`collapsed`: their F1 is the constant classifier's, robust or not)."""
    by_id = {p.model_id: p for p in plans}
    by_seed: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    lipschitz: dict = defaultdict(lambda: defaultdict(dict))
    pooled: dict = defaultdict(list)
    sizes: dict[str, float] = {}
    collapsed: dict[str, int] = {}
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
            if row["metric"] == "positive_rate":
                one_answer = value in (0.0, 1.0)
                collapsed[str(plan.hidden)] = collapsed.get(str(plan.hidden), 0) + one_answer
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
    return {
        "parameters": sizes,
        "lipschitz": {w: float(np.mean(v)) for w, v in sorted(by_width.items(),
                                                              key=lambda kv: int(kv[0])) if v},
        "lipschitz_by_seed": {p: dict(w) for p, w in lipschitz.items()},
        "f1": {a: dict(e) for a, e in means["test_f1"].items()},
        "accuracy": {a: dict(e) for a, e in means["test_accuracy"].items()},
        "f1_by_seed": {p: {k: dict(w) for k, w in cells.items()}
                       for p, cells in by_seed.items()},
        "collapsed": {w: n for w, n in sorted(collapsed.items(), key=lambda kv: int(kv[0]))}}


def _figure(section: dict, folder: Path, protocol: str) -> Path | None:
    attacks = [a for a in section["f1"] if a != "clean"]
    if not attacks:
        return None
    trained = section.get("pgd_trained")
    fig, axes = new_figure(len(attacks) + 1 + (trained is not None), 3.6, 3.0)
    if trained is not None:
        _training_panel(axes.pop(), section, trained)
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


def _training_panel(ax, natural: dict, trained: dict) -> None:
    """Clean and PGD-ℓ∞ (largest ε) test F1 by width, natural and PGD-trained models."""
    widths = sorted({int(w) for w in trained["f1"].get("clean", {}).get("0", {})})
    strongest = max(natural["f1"].get("pgd_linf", {"0": {}}), key=float)
    for section, style, who in ((natural, "--", "natural"), (trained, "-", "PGD-trained")):
        for attack, eps, colour in (("clean", "0", "black"), ("pgd_linf", strongest, "C3")):
            by_width = section["f1"].get(attack, {}).get(eps, {})
            label = f"{who}, {'clean' if attack == 'clean' else f'PGD ℓ∞ ε = {eps}'}"
            ax.plot(widths, np.array([by_width.get(str(w)) for w in widths], dtype=float), style,
                    color=colour, marker="o", label=label)
    width_axis(ax, widths)
    ax.set_ylabel("test F1")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("natural vs PGD training")
    ax.legend(fontsize=6)


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
    figure = _figure(section, inp.figures, inp.protocol.name)
    html = (
        "<h3>Beyond §4.6: adversarial robustness by width</h3><p>Test F1 of each model on "
        f"{section['images']} of its test images attacked with its own gradients: FGSM (one "
        f"ℓ∞ step of size ε) and PGD ({section['steps']} projected steps of "
        f"{section['rel_step']:g} ε from a random start in the ℓ∞ or ℓ2 ball of radius ε; "
        "pixels in [0, 1]), means over pairs and seeds. Madry et al. (2018) found that "
        "capacity alone raises robustness a little; the claims check tests it here.</p>"
        + _f1_table(section["f1"]) + _training_html(section))
    return Section(result, [figure] if figure else [], html)


def _f1_table(f1: dict) -> str:
    """Test F1 by attack and ε (rows) and width (columns; '—' where a width is missing)."""
    widths = sorted({int(w) for by_eps in f1.values() for e in by_eps.values() for w in e})
    rows = [[LABELS[attack], eps, *(f"{by_width[str(w)]:.3f}"
                                    if by_width.get(str(w)) is not None else "—"
                                    for w in widths)]
            for attack, by_eps in f1.items() for eps, by_width in by_eps.items()]
    return table(["attack", "ε", *(f"h={w}" for w in widths)], rows)


def _training_html(section: dict) -> str:
    """The PGD-trained twins' table, with how they were trained ('' without them)."""
    trained = section.get("pgd_trained")
    if trained is None or not trained["f1"]:
        return ""
    t = section["training"]
    return (f"<p>PGD-trained twins: each model above trained again from the same initial "
            f"weights, split and batch order, every update on its batch's worst-case inputs "
            f"({t['steps']} {t['norm']} steps of {t['step_size']:g} within ε = {t['eps']:g}). "
            "Their test F1 under the same attacks:</p>" + _f1_table(trained["f1"]))
