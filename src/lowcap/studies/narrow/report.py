"""Companion paper B in the report: final loss vs m/(2n/d), curves, σ_min, and the verdict."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from lowcap.report.claims import claim_record
from lowcap.report.html import table
from lowcap.report.plotting import band, new_figure, save_figure
from lowcap.report.statistics import HOLDS, above, bootstrap_mean_ci, ci_text
from lowcap.run.store import Store
from lowcap.studies.base import ReportInput, Section
from lowcap.studies.narrow.methods import best_setting

PAPER_SAYS = ("Near m ≈ 2n/d, a projected gradient method trains narrow networks to lower "
              "training loss than plain SGD.")


def _curves(store: Store) -> dict:
    """(dataset, method, multiplier, radius) → metric → {seed: [(step, value)]}."""
    out: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for row in store.results("narrow"):
        p = row["params"]
        key = (p["dataset"], p["method"], p["multiplier"], (p["radius"], p["lr"]))
        out[key][row["metric"]][p["seed"]].append((p["step"], row["value"]))
    return out


def _series(per_seed: dict) -> tuple[np.ndarray, np.ndarray]:
    """Steps [T] and values [seeds, T]."""
    ordered = [sorted(v) for _, v in sorted(per_seed.items())]
    steps = np.array([s for s, _ in ordered[0]])
    return steps, np.array([[np.nan if x is None else x for _, x in run] for run in ordered])


def narrow_summary(store: Store) -> dict:
    """Final training loss per dataset, method and width multiplier (best radius for projected
    methods), and the verdict at the multiplier closest to 1."""
    curves = _curves(store)
    if not curves:
        return {}
    finals: dict = defaultdict(dict)
    for (data, method, mult, setting), metrics in curves.items():
        finals[(data, method, mult)][setting] = _series(metrics["loss"])[1][:, -1]
    best: dict = defaultdict(lambda: defaultdict(dict))
    for (data, method, mult), per_setting in finals.items():
        setting = best_setting(per_setting)  # the phase tracked σ_min for this one only
        final = per_setting[setting]
        sigma = curves[(data, method, mult, setting)].get("sigma_min")
        best[data][method][repr(mult)] = {
            "mean": float(np.nanmean(final)), "std": float(np.nanstd(final)),
            "by_seed": [float(v) for v in final],
            "radius": setting[0], "lr": setting[1],
            "sigma_min_final": float(np.nanmean(_series(sigma)[1][:, -1])) if sigma else None}
    summary: dict = {"final_loss": {d: dict(m) for d, m in best.items()}, "verdict": {}}
    for data, methods in best.items():
        mults = sorted({float(k) for m in methods.values() for k in m})
        near = repr(min(mults, key=lambda k: abs(k - 1.0)))
        projected = {m: e[near] for m, e in methods.items() if m.startswith("projected")}
        sgd = methods.get("sgd", {}).get(near)
        if not projected or sgd is None:
            continue
        name, winner = min(projected.items(), key=lambda kv: kv[1]["mean"])
        # Seeds pair the runs: the same data and starting weights for every method.
        with np.errstate(all="ignore"):
            ratio = np.log(np.array(sgd["by_seed"]) / np.array(winner["by_seed"]))
        ci = bootstrap_mean_ci(ratio)
        summary["verdict"][data] = {
            "multiplier": float(near), "best_projected": name, "radius": winner["radius"],
            "lr": winner["lr"], "sgd_lr": sgd["lr"],
            "projected_loss": winner["mean"], "sgd_loss": sgd["mean"],
            "log_sgd_over_projected_ci": list(ci), "verdict": above(ci, 0.0).verdict,
            "holds": above(ci, 0.0).verdict == HOLDS}
    return summary


def narrow_claims(summary: dict) -> list[dict]:
    """One claim per dataset."""
    return [claim_record(
        f"narrow_projected_beats_sgd_{data}", "companion-B", PAPER_SAYS,
        "statistic: per seed, log(SGD's final training loss / the best projected method's), "
        "at m/(2n/d) closest to 1; 95% bootstrap interval over seeds of its mean; holds above "
        "0, does not hold below", above(tuple(v["log_sgd_over_projected_ci"]), 0.0),
        f"{data}, m/(2n/d) = {v['multiplier']:g}: {v['best_projected']} (R = {v['radius']}) "
        f"{v['projected_loss']:.4g} vs SGD {v['sgd_loss']:.4g}; log ratio "
        f"{ci_text(tuple(v['log_sgd_over_projected_ci']))}")
        for data, v in summary.get("verdict", {}).items()]


def narrow_figures(store: Store, summary: dict, folder: Path) -> list[Path]:
    """Per dataset: final loss vs m/(2n/d) per method; loss and σ_min curves near m = 2n/d."""
    curves = _curves(store)
    paths = []
    for data, methods in summary.get("final_loss", {}).items():
        fig, (ax,) = new_figure()
        for method, per_mult in methods.items():
            mults = sorted(per_mult, key=float)
            mean = np.array([per_mult[k]["mean"] for k in mults])
            std = np.array([per_mult[k]["std"] for k in mults])
            x = [float(k) for k in mults]
            line, = ax.plot(x, mean, marker="o", label=method)
            ax.fill_between(x, np.maximum(mean - std, 1e-12), mean + std, alpha=0.2,
                            color=line.get_color())
        ax.set(xscale="log", yscale="log", xlabel="m / (2n/d)", ylabel="final training loss",
               title=f"Narrow networks · {data} (best radius and lr per method)")
        ax.legend(fontsize=8)
        paths.append(save_figure(fig, folder, f"figN1_narrow_loss_{data}"))
        near = summary["verdict"].get(data, {}).get("multiplier")
        if near is None:
            continue
        fig, (ax_loss, ax_sigma) = new_figure(ncols=2)
        for method, per_mult in methods.items():
            chosen = per_mult[repr(near)]
            metrics = curves[(data, method, near, (chosen["radius"], chosen["lr"]))]
            steps, loss = _series(metrics["loss"])
            band(ax_loss, steps, loss, method)
            steps, sigma = _series(metrics["sigma_min"])
            band(ax_sigma, steps, sigma, method)
        ax_loss.set(yscale="log", xlabel="step", ylabel="training loss",
                    title=f"{data}, m/(2n/d) = {near:g}")
        ax_sigma.set(xlabel="step", ylabel="σ_min of the feature Jacobian")
        ax_loss.legend(fontsize=8)
        paths.append(save_figure(fig, folder, f"figN2_narrow_curves_{data}"))
    return paths


def run_report(inp: ReportInput) -> Section:
    """Summary key `narrow`, its claim, the verdict table and the figures."""
    summary = narrow_summary(inp.store)
    return Section({"narrow": summary}, narrow_figures(inp.store, summary, inp.figures),
                   _html(summary), narrow_claims(summary))


def _html(summary: dict) -> str:
    if not summary:
        return ""
    rows = [[data, v["multiplier"], v["best_projected"], v["radius"], v["projected_loss"],
             v["sgd_loss"], "holds" if v["holds"] else "does not hold"]
            for data, v in summary["verdict"].items()]
    return ("<h2>Companion B · narrow networks, projected gradient vs SGD (Zhang et al. 2021)"
            "</h2><p>lowcap's operationalisation: first layer trained inside a Frobenius ball "
            "around a mirrored initialisation, square loss.</p>"
            + table(["dataset", "m/(2n/d)", "best projected", "R", "projected loss",
                     "SGD loss", "verdict"], rows))
