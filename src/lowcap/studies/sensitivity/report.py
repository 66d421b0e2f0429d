"""Companion paper A in the report: correlations with bootstrap CIs, variant effects, figures,
and the paper's four statements as claims."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr, rankdata, spearmanr

from lowcap.report.claims import Verdict, claim_record
from lowcap.report.html import table
from lowcap.report.plotting import new_figure, save_figure
from lowcap.report.statistics import (
    above,
    all_of,
    below,
    bootstrap_mean_ci,
    ci_text,
    undecided,
)
from lowcap.run.store import Store
from lowcap.studies.base import ReportInput, Section
from lowcap.studies.sensitivity.config import SensitivityConfig
from lowcap.studies.sensitivity.jacobian import NOVAK_SCALE

STATEMENTS = {
    "jacobian_correlates_with_gap": "The Jacobian norm at test points correlates with the "
                                    "generalization gap across models.",
    "jacobian_lower_near_data": "The Jacobian norm is lower near the training data than away "
                                "from it (§4.1: along ellipses through training points).",
    "jacobian_lower_near_data_vs_noise": "The Jacobian norm is lower at training points than "
                                         "at inputs far from the data (uniform noise).",
    "harmful_factors_raise_jacobian": "Factors that hurt generalization (random labels, "
                                      "full-batch training) raise the norm; ReLU lowers it "
                                      "relative to tanh.",
    "jacobian_predicts_errors": "Per test point, a high Jacobian norm predicts misclassification.",
}


def _per_model(store: Store) -> dict[str, list[dict]]:
    """variant → one dict of metrics per model, with its (pair, width, seed) as `key`."""
    grouped: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for row in store.results("sensitivity"):
        grouped[(row["params"]["variant"], row["model_id"])][row["metric"]] = (
            np.nan if row["value"] is None else row["value"])
    plans = store.models(sorted({model_id for _, model_id in grouped}))
    out: dict[str, list[dict]] = defaultdict(list)
    for (variant, model_id), metrics in grouped.items():
        row = plans.get(model_id, {})
        key = (row.get("pair"), row.get("hidden"), row.get("seed"))
        out[variant].append({**metrics, "model_id": model_id, "key": key})
    return dict(out)


def _row_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))


def correlation_ci(x: np.ndarray, y: np.ndarray, ranked: bool, n: int, seed: int) -> list[float]:
    """95% percentile interval of Pearson's r (Spearman's ρ if `ranked`) over `n` bootstrap
    resamples, all at once; resamples where x or y is constant are left out (NaN when every
    one is)."""
    pick = np.random.default_rng(seed).integers(0, len(x), (n, len(x)))
    xs, ys = x[pick], y[pick]
    usable = (np.ptp(xs, axis=1) > 0) & (np.ptp(ys, axis=1) > 0)
    xs, ys = xs[usable], ys[usable]
    if not len(xs):  # x or y constant: no correlation to bound
        return [float("nan"), float("nan")]
    if ranked:
        xs, ys = rankdata(xs, axis=1), rankdata(ys, axis=1)
    values = _row_pearson(xs, ys)
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def _log_ratio(a: list[float], b: list[float]) -> np.ndarray:
    """log(a / b) elementwise; a zero norm (every unit dead there) gives ±inf or NaN, which
    the bootstrap leaves out."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.asarray(a, dtype=float)) - np.log(np.asarray(b, dtype=float))


def _paired_log_ratios(models: dict[str, list[dict]], variant: str) -> np.ndarray:
    """log(test norm of the variant / of the base model) for each (pair, width, seed) that has
    both."""
    base = {m["key"]: m["jac_test"] for m in models.get("base", [])}
    pairs = [(m["jac_test"], base[m["key"]]) for m in models.get(variant, []) if m["key"] in base]
    return _log_ratio([a for a, _ in pairs], [b for _, b in pairs])


def sensitivity_summary(store: Store, spec: SensitivityConfig) -> dict:
    """Correlations (with 95% bootstrap CIs), norms near/away from data, variant effects.

    Norms are Novak et al.'s: the Frobenius norm of the two-class softmax Jacobian, √2 times
    the sigmoid output's (stored); correlations and AUCs do not depend on the factor."""
    models = _per_model(store)
    everyone = [m for ms in models.values() for m in ms]
    if len(everyone) < 3:
        return {}
    jac = np.array([m["jac_test"] for m in everyone])
    out: dict = {"protocol": spec.protocol, "models": len(everyone), "correlation": {},
                 "jacobian_norm": "Novak et al.: ‖∂softmax(0, f)/∂x‖_F = √2 ‖∂σ(f)/∂x‖_F"}
    for gap, values in (("gap_acc", [m["train_acc"] - m["test_acc"] for m in everyone]),
                        ("gap_loss", [m["test_loss"] - m["train_loss"] for m in everyone])):
        y = np.array(values)
        entry = {}
        for name, stat, ranked in (("pearson", pearsonr, False), ("spearman", spearmanr, True)):
            entry[name] = float(stat(jac, y)[0])
            entry[f"{name}_ci"] = correlation_ci(jac, y, ranked, spec.bootstrap, spec.seed)
        out["correlation"][gap] = entry
    wheres = [w for w in ("train", "test", "random", "ellipse_near", "ellipse_far")
              if all(f"jac_{w}" in m for m in everyone)]
    out["norms"] = {w: NOVAK_SCALE * float(np.nanmean([m[f"jac_{w}"] for m in everyone]))
                    for w in wheres}
    out["near_over_noise_log_ci"] = list(bootstrap_mean_ci(_log_ratio(
        [m["jac_train"] for m in everyone], [m["jac_random"] for m in everyone])))
    if "ellipse_near" in wheres:
        out["ellipse_near_over_far_log_ci"] = list(bootstrap_mean_ci(_log_ratio(
            [m["jac_ellipse_near"] for m in everyone], [m["jac_ellipse_far"] for m in everyone])))
        near = np.array([m["transitions_near"] for m in everyone])
        far = np.array([m["transitions_far"] for m in everyone])
        out["transitions_near_share"] = float(near.sum() / max(near.sum() + far.sum(), 1))
        out["transitions_near_minus_far_ci"] = list(bootstrap_mean_ci(near - far))
    auc = np.array([m["error_auc"] for m in everyone])
    out["error_auc"] = float(np.nanmean(auc))
    out["error_auc_ci"] = list(bootstrap_mean_ci(auc))
    out["transitions"] = {
        "mean": float(np.mean([m["transitions"] for m in everyone])),
        "relative_change_when_doubling_points": float(np.mean(
            [abs(m["transitions_2k"] - m["transitions"]) / max(m["transitions"], 1)
             for m in everyone]))}
    out["variants"] = {v: {"jac_test_mean": NOVAK_SCALE * float(np.nanmean(
                               [m["jac_test"] for m in ms])),
                           "gap_acc_mean": float(np.nanmean([m["train_acc"] - m["test_acc"]
                                                             for m in ms])),
                           "models": len(ms)}
                       for v, ms in models.items()}
    for variant, entry in out["variants"].items():
        if variant != "base":
            entry["log_ratio_to_base_ci"] = list(bootstrap_mean_ci(
                _paired_log_ratios(models, variant)))
    return out


def _correlates(summary: dict) -> Verdict:
    corr = summary["correlation"]["gap_acc"]
    ci = tuple(corr["spearman_ci"])
    return above(ci, 0.0), (f"Spearman(gap in accuracy, test Jacobian norm) = "
                            f"{corr['spearman']:.2f}, 95% bootstrap interval over models "
                            f"{ci_text(ci, '.2f')}; Pearson {corr['pearson']:.2f}; "
                            f"{summary['models']} models")


def _lower_near_data(summary: dict) -> Verdict:
    if "ellipse_near_over_far_log_ci" not in summary:
        return undecided(), "no ellipse measurements stored (rerun the sensitivity phase)"
    ci = tuple(summary["ellipse_near_over_far_log_ci"])
    norms = summary["norms"]
    return below(ci, 0.0), (
        f"along ellipses through three training points: mean norm within π/6 of a data point "
        f"{norms['ellipse_near']:.3g}, between them {norms['ellipse_far']:.3g}; log(near / "
        f"between) per model, 95% bootstrap interval over models {ci_text(ci)}; transitions "
        f"near the data points: {summary['transitions_near_share']:.1%} of all (near − "
        f"between per model {ci_text(tuple(summary['transitions_near_minus_far_ci']), '+.1f')})")


def _lower_than_noise(summary: dict) -> Verdict:
    ci = tuple(summary["near_over_noise_log_ci"])
    return below(ci, 0.0), ("mean norm at train points {train:.3g}, test points {test:.3g}, "
                            "uniform random inputs {random:.3g}; ".format(**summary["norms"])
                            + f"log(train / noise) per model, 95% bootstrap interval "
                            f"{ci_text(ci)}")


def _harmful_factors(summary: dict) -> Verdict:
    variants = summary["variants"]
    cis = {v: tuple(e["log_ratio_to_base_ci"]) for v, e in variants.items()
           if v in ("random_labels", "full_batch", "tanh")}
    if not cis:
        return undecided(), "no variant models"
    return all_of([above(ci, 0.0) for ci in cis.values()]), (
        "mean test norm: " + ", ".join(f"{v} {e['jac_test_mean']:.3g}" for v, e in
                                       variants.items())
        + "; log(variant / base) of the same (pair, width, seed), 95% bootstrap interval: "
        + ", ".join(f"{v} {ci_text(ci)}" for v, ci in cis.items()))


def _predicts_errors(summary: dict) -> Verdict:
    ci = tuple(summary["error_auc_ci"])
    return above(ci, 0.5), (f"ROC-AUC of the per-point norm for 'misclassified', mean over "
                            f"models {summary['error_auc']:.3f}, 95% bootstrap interval "
                            f"{ci_text(ci, '.3f')}")


RULES = {
    "jacobian_correlates_with_gap": (_correlates, "statistic: Spearman's ρ across models with "
                                     "its 95% bootstrap interval over models; holds above 0, "
                                     "does not hold below"),
    "jacobian_lower_near_data": (_lower_near_data, "statistic: per model, log(mean norm within "
                                 "π/6 of the ellipses' data points / mean norm between them); "
                                 "95% bootstrap interval over models of its mean; holds below "
                                 "0, does not hold above"),
    "jacobian_lower_near_data_vs_noise": (_lower_than_noise, "statistic (a second, weaker "
                                          "reading): per model, log(norm at training points / "
                                          "at uniform-noise images), 95% bootstrap interval; "
                                          "holds below 0, does not hold above"),
    "harmful_factors_raise_jacobian": (_harmful_factors, "statistic: per (pair, width, seed), "
                                       "log(variant's test norm / base model's), 95% bootstrap "
                                       "interval of the mean for each variant; holds if every "
                                       "interval lies above 0, does not hold if one lies "
                                       "below"),
    "jacobian_predicts_errors": (_predicts_errors, "statistic: per model, the ROC-AUC of the "
                                 "norm for 'misclassified'; 95% bootstrap interval over models "
                                 "of the mean; holds above 0.5, does not hold below"),
}


def sensitivity_claims(summary: dict) -> list[dict]:
    """The paper's statements evaluated on `summary`, each with its statistic."""
    if not summary:
        return []
    return [claim_record(key, summary["protocol"], STATEMENTS[key], text, *rule(summary))
            for key, (rule, text) in RULES.items()]


def sensitivity_figure(store: Store, folder: Path) -> Path | None:
    """Generalization gap vs test Jacobian norm, one colour per variant."""
    models = _per_model(store)
    if not models:
        return None
    fig, (ax_gap, ax_norm) = new_figure(ncols=2)
    for variant, ms in models.items():
        ax_gap.scatter([m["jac_test"] for m in ms], [m["train_acc"] - m["test_acc"] for m in ms],
                       s=10, label=variant)
    ax_gap.set(xscale="log", xlabel="mean ‖∂p/∂x‖_F at test points",
               ylabel="train − test accuracy", title="Sensitivity vs generalization gap")
    ax_gap.legend(fontsize=8)
    wheres = ("train", "test", "random")
    for i, (variant, ms) in enumerate(models.items()):
        values = [NOVAK_SCALE * np.nanmean([m[f"jac_{w}"] for m in ms]) for w in wheres]
        ax_norm.bar(np.arange(3) + 0.8 * i / len(models), values, width=0.8 / len(models),
                    label=variant)
    ax_norm.set_xticks(np.arange(3) + 0.4 - 0.4 / len(models), wheres)
    ax_norm.set(yscale="log", ylabel="mean Jacobian norm (Novak: 2-class softmax)",
                title="Near vs away from data")
    return save_figure(fig, folder, "figS1_sensitivity")


def run_report(inp: ReportInput) -> Section:
    """Summary key `sensitivity`, its claims, its table and Fig S1."""
    summary = sensitivity_summary(inp.store, inp.cfg.sensitivity)
    figure = sensitivity_figure(inp.store, inp.figures)
    return Section({"sensitivity": summary}, [figure] if figure else [], _html(summary),
                   sensitivity_claims(summary))


def _html(s: dict) -> str:
    if not s:
        return ""
    rows = [[gap, e["pearson"], f"{e['pearson_ci'][0]:.3f}–{e['pearson_ci'][1]:.3f}",
             e["spearman"], f"{e['spearman_ci'][0]:.3f}–{e['spearman_ci'][1]:.3f}"]
            for gap, e in s["correlation"].items()]
    return (f"<h2>Companion A · sensitivity and generalization (Novak et al. 2018), protocol "
            f"{s['protocol']}, {s['models']} models</h2>"
            + table(["gap", "Pearson", "95% CI", "Spearman", "95% CI"], rows)
            + table(["variant", "models", "mean test Jacobian norm", "mean accuracy gap"],
                    [[v, e["models"], e["jac_test_mean"], e["gap_acc_mean"]]
                     for v, e in s["variants"].items()])
            + f"<p>Linear-region transitions along ellipses: mean "
            f"{s['transitions']['mean']:.1f}; relative change when doubling the points "
            f"{s['transitions']['relative_change_when_doubling_points']:.3%}.</p>")
