"""§4.6's report section: F1 under noise, occlusion and MNIST-C-style corruptions by width;
Figs 6, 7, D.1 and the MNIST-C grid."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from lowcap.report.html import table
from lowcap.report.tables import results_by_model
from lowcap.report.trends import factor_trend
from lowcap.run.checkpoints import load_tensors
from lowcap.run.plan import ModelPlan
from lowcap.run.store import Store
from lowcap.studies.base import ReportInput, Section
from lowcap.studies.robustness.compute import CORRUPTION_EXAMPLE, robustness_settings
from lowcap.studies.robustness.corruptions import PARITY
from lowcap.studies.robustness.figures import (
    corruption_examples,
    gaussian_figure,
    mnist_c_figure,
    occlusion_figure,
    parity_figure,
)
from lowcap.studies.robustness.mnist_c import DEFAULT_SEVERITY
from lowcap.studies.selection import at_pair_and_widths

# What the paper states for (4, 9) under 7×7 occlusion, shown beside our numbers.
PAPER_OCCLUSION = {"24": 0.847, "48": 0.860, "64": 0.862}


def _summary(inp: ReportInput) -> tuple[dict, dict]:
    """The stored test F1 of the section's models (`robustness_table`), and the summary key."""
    spec = inp.cfg.robustness
    plans = at_pair_and_widths(spec).plans(inp.cfg, inp.protocol)
    settings = set(robustness_settings(spec))
    result = robustness_table(inp.store, plans, settings)
    if not result:
        return {}, {}
    out = robustness_summary(result, plans[0].pair_key, spec.min_effect)
    out.update(collapsed_summary(inp.store, plans, settings))
    out["auc"] = auc_summary(robustness_table(inp.store, plans, settings, "test_auc"))
    return result, out


def auc_summary(auc: dict) -> dict:
    """Summary key `robustness.auc`: test ROC-AUC per width, beside F1 (a collapsed model's F1
    is a constant's, its AUC may still rank well): under noise (mean over σ > 0 and seeds) and
    under occlusion (mean over seeds)."""
    def mean(cells: list) -> float:
        values = [v for seeds in cells for v in seeds.values()]
        return float(np.nanmean(values)) if values else float("nan")

    noise = {s: w for s, w in auc.get("gaussian", {}).items() if float(s) > 0}
    widths = {h for w in noise.values() for h in w}
    out = {"gaussian": {h: mean([w[h] for w in noise.values() if h in w]) for h in widths}}
    out["occlusion"] = {h: mean([seeds]) for w in auc.get("occlusion", {}).values()
                        for h, seeds in w.items()}
    return out


def summary(inp: ReportInput) -> dict:
    """Summary key `robustness` (`robustness_summary`; none without results)."""
    return {"robustness": out} if (out := _summary(inp)[1]) else {}


def report(inp: ReportInput) -> Section:
    """Summary key `robustness` (`robustness_summary`); Figs 6 and 7 and the MNIST-C grid."""
    spec, name = inp.cfg.robustness, inp.protocol.name
    result, summary = _summary(inp)
    if not result:
        return Section()
    paper = (PAPER_OCCLUSION if summary["pair"] == "4-9" and spec.occlusion_size == 7 else {})
    constant = summary.get("constant_f1")
    figures = [gaussian_figure(result["gaussian"], inp.figures, name, constant),
               occlusion_figure(result["occlusion"], inp.figures, name, paper, constant)]
    path = mnist_c_figure(result, inp.figures, name)
    figures += [path] if path else []
    html = ("<h3>§4.6 Robustness (test split, same corrupted images for every model)</h3>"
            + trends_html(summary["trends"]) + width_table(summary, paper))
    headline = (table(["hidden", "occlusion F1 (paper)", "occlusion F1 (lowcap)"],
                      [[h, paper[h], summary["occlusion"][h]] for h in sorted(paper, key=int)
                       if h in summary["occlusion"]]) if paper else "")
    if "mnist_c_parity" in summary:
        figures.append(parity_figure(summary["mnist_c_parity"], inp.figures, name))
        html += parity_html(summary["mnist_c_parity"])
    return Section({"robustness": summary}, figures, html, headline=headline)


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


def robustness_table(store: Store, plans: list[ModelPlan], settings: set[tuple],
                     metric: str = "test_f1") -> dict:
    """`metric` under each corruption: corruption → parameter → width → seed → value, for the
    configured (corruption, parameter, severity) settings only."""
    hidden = {p.model_id: p.hidden for p in plans}
    seed = {p.model_id: str(p.seed) for p in plans}
    table: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for rows in results_by_model(store, "robustness", plans).values():
        for row in rows:
            p = row["params"]
            if (row["metric"] == metric and p
                    and (p["corruption"], p["parameter"], p["severity"]) in settings):
                key = p["severity"] if p["severity"] else p["parameter"]
                table[p["corruption"]][repr(key)][str(hidden[row["model_id"]])][
                    seed[row["model_id"]]] = np.nan if row["value"] is None else row["value"]
    return {c: {k: dict(w) for k, w in params.items()} for c, params in table.items()}


def width_table(summary: dict, paper: dict[str, float]) -> str:
    """Per width: mean test F1 under noise (over σ > 0) and occlusion, the seeds that
    collapsed (one answer for every image) under each, and the paper's numbers where they
    apply."""
    noise = summary["trends"].get("gaussian", {})
    noise_mean = dict(zip((f"{h:g}" for h in noise.get("levels", [])), noise.get("mean", []),
                          strict=True))
    collapsed = summary.get("collapsed", {})

    def seeds(name: str, h: str) -> str:
        found = sorted({s for by_width in collapsed.get(name, {}).values()
                        for s in by_width.get(h, [])}, key=int)
        return ", ".join(found) if found else "none"

    occ, auc = summary["occlusion"], summary.get("auc", {})
    rows = [[h, noise_mean.get(h, "—"), auc.get("gaussian", {}).get(h, "—"),
             seeds("gaussian", h), occ[h], auc.get("occlusion", {}).get(h, "—"),
             seeds("occlusion", h), *([paper.get(h, "—")] if paper else [])]
            for h in sorted(occ, key=int)]
    constant = summary.get("constant_f1")
    note = ("" if constant is None else
            f"<p>A collapsed model answers the same for every image; always 'positive' scores "
            f"F1 {constant:.4f} on this test split, always 'negative' 0 (dashed line in the "
            f"figures). Collapsed models: {summary.get('collapsed_models', 0)}.</p>")
    return note + table(["hidden", "noise F1 (mean over σ > 0)", "noise ROC-AUC",
                         "collapsed seeds (noise)", "occlusion F1", "occlusion ROC-AUC",
                         "collapsed seeds (occlusion)", *(["paper"] if paper else [])], rows)


def collapsed_summary(store: Store, plans: list[ModelPlan], settings: set[tuple]) -> dict:
    """Summary keys `collapsed` (corruption → parameter → width → the seeds whose models
    call every image positive, or every image negative), `collapsed_models` (how many models
    collapse under some setting) and `constant_f1` (an always-positive model's test F1: where
    the collapsed sit). Empty for results stored before lowcap measured it."""
    shares = robustness_table(store, plans, settings, "test_predicted_positive")
    collapsed: dict = defaultdict(lambda: defaultdict(dict))
    models = set()
    for name, params in shares.items():
        for key, widths in params.items():
            for h, seeds in widths.items():
                found = sorted((s for s, share in seeds.items() if share in (0.0, 1.0)), key=int)
                if found:
                    collapsed[name][key][h] = found
                    models.update((h, s) for s in found)
    fractions = [r["value"] for rows in results_by_model(store, "robustness", plans).values()
                 for r in rows if r["metric"] == "test_positive_fraction"]
    if not fractions:
        return {}
    p = fractions[0]
    return {"collapsed": {k: dict(v) for k, v in collapsed.items()},
            "collapsed_models": len(models), "constant_f1": 2 * p / (1 + p)}


def trends_html(trends: dict) -> str:
    """Each measurement's shape over every width, with the rule that named it."""
    rows = [[name, t["shape"], f"{t['best']:g} ({t['best_range'][0]:g}–{t['best_range'][1]:g})"
             if t["seeds"] else "—", t["seeds"], t["reason"]] for name, t in trends.items()]
    return ("<p>Over every width (not only the widest against the narrowest): the shape of "
            "each curve, decided by seed-bootstrap intervals (lowcap.report.trends).</p>"
            + table(["measurement", "shape", "best width (95% range)", "seeds", "why"], rows))


def width_trends(out: dict, min_effect: float) -> dict:
    """Summary key `robustness.trends`: the shape over widths of the test F1 under noise
    (each seed's mean over σ > 0) and under occlusion (`lowcap.report.trends`)."""
    noise = {h: {} for h in out["gaussian_by_seed"]}
    for h, by_sigma in out["gaussian_by_seed"].items():
        sigmas = [s for s in by_sigma if float(s) > 0]
        for seed in set.intersection(*(set(by_sigma[s]) for s in sigmas)) if sigmas else ():
            noise[h][seed] = float(np.mean([by_sigma[s][seed] for s in sigmas]))
    measured = {"gaussian": noise, "occlusion": out["occlusion_by_seed"]}
    return {name: factor_trend(by_width, min_effect).as_dict()
            for name, by_width in measured.items() if by_width}


def robustness_summary(table: dict, pair: str, min_effect: float) -> dict:
    """The contract's robustness key: mean test F1 over seeds per width and σ / occlusion,
    each seed's own value (`gaussian_by_seed`, `occlusion_by_seed`: the claims pair widths by
    seed), the practical threshold and each curve's shape over every width (`trends`)."""
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
    out["min_effect"] = min_effect
    out["trends"] = width_trends(out, min_effect)
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
