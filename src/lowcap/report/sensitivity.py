"""Companion paper A in the report: correlations with bootstrap CIs, variant effects, figures,
and the paper's four statements as claims."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr, rankdata, spearmanr

from lowcap.experiments.config import SensitivityConfig
from lowcap.experiments.store import Store
from lowcap.report.plotting import new_figure, save_figure

STATEMENTS = {
    "jacobian_correlates_with_gap": "The Jacobian norm at test points correlates with the "
                                    "generalization gap across models.",
    "jacobian_lower_near_data": "The Jacobian norm is lower near the training data than away "
                                "from it.",
    "harmful_factors_raise_jacobian": "Factors that hurt generalization (random labels, "
                                      "full-batch training) raise the norm; ReLU lowers it "
                                      "relative to tanh.",
    "jacobian_predicts_errors": "Per test point, a high Jacobian norm predicts misclassification.",
}


def _per_model(store: Store) -> dict[str, list[dict[str, float]]]:
    """variant → one dict of metrics per model."""
    grouped: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for row in store.results("sensitivity"):
        grouped[(row["params"]["variant"], row["model_id"])][row["metric"]] = (
            np.nan if row["value"] is None else row["value"])
    out: dict[str, list[dict[str, float]]] = defaultdict(list)
    for (variant, model_id), metrics in grouped.items():
        out[variant].append({**metrics, "model_id": model_id})
    return dict(out)


def _row_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))


def _boot_ci(x: np.ndarray, y: np.ndarray, ranked: bool, n: int, seed: int) -> list[float]:
    """95% percentile interval of Pearson's r (Spearman's ρ if `ranked`) over `n` bootstrap
    resamples, all at once; resamples where x or y is constant are left out."""
    pick = np.random.default_rng(seed).integers(0, len(x), (n, len(x)))
    xs, ys = x[pick], y[pick]
    usable = (np.ptp(xs, axis=1) > 0) & (np.ptp(ys, axis=1) > 0)
    xs, ys = xs[usable], ys[usable]
    if ranked:
        xs, ys = rankdata(xs, axis=1), rankdata(ys, axis=1)
    values = _row_pearson(xs, ys)
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def sensitivity_summary(store: Store, spec: SensitivityConfig) -> dict:
    """Correlations (with 95% bootstrap CIs), norms near/away from data, variant effects."""
    models = _per_model(store)
    everyone = [m for ms in models.values() for m in ms]
    if len(everyone) < 3:
        return {}
    jac = np.array([m["jac_test"] for m in everyone])
    out: dict = {"protocol": spec.protocol, "models": len(everyone), "correlation": {}}
    for gap, values in (("gap_acc", [m["train_acc"] - m["test_acc"] for m in everyone]),
                        ("gap_loss", [m["test_loss"] - m["train_loss"] for m in everyone])):
        y = np.array(values)
        entry = {}
        for name, stat, ranked in (("pearson", pearsonr, False), ("spearman", spearmanr, True)):
            entry[name] = float(stat(jac, y)[0])
            entry[f"{name}_ci"] = _boot_ci(jac, y, ranked, spec.bootstrap, spec.seed)
        out["correlation"][gap] = entry
    out["norms"] = {where: float(np.nanmean([m[f"jac_{where}"] for m in everyone]))
                    for where in ("train", "test", "random")}
    out["error_auc"] = float(np.nanmean([m["error_auc"] for m in everyone]))
    out["transitions"] = {
        "mean": float(np.mean([m["transitions"] for m in everyone])),
        "relative_change_when_doubling_points": float(np.mean(
            [abs(m["transitions_2k"] - m["transitions"]) / max(m["transitions"], 1)
             for m in everyone]))}
    out["variants"] = {v: {"jac_test_mean": float(np.nanmean([m["jac_test"] for m in ms])),
                           "gap_acc_mean": float(np.nanmean([m["train_acc"] - m["test_acc"]
                                                             for m in ms])),
                           "models": len(ms)}
                       for v, ms in models.items()}
    return out


def sensitivity_claims(summary: dict) -> list[dict]:
    """The paper's four statements evaluated on `summary`."""
    if not summary:
        return []
    corr = summary["correlation"]["gap_acc"]
    variants = summary["variants"]
    base = variants.get("base", {}).get("jac_test_mean", np.nan)
    checks = {
        "jacobian_correlates_with_gap": (
            corr["spearman_ci"][0] > 0,
            f"Spearman(gap in accuracy, test Jacobian norm) = {corr['spearman']:.2f} "
            f"(95% CI {corr['spearman_ci'][0]:.2f}–{corr['spearman_ci'][1]:.2f}), Pearson "
            f"{corr['pearson']:.2f}, over {summary['models']} models"),
        "jacobian_lower_near_data": (
            summary["norms"]["train"] < summary["norms"]["random"],
            "mean norm at train points {train:.3g}, test points {test:.3g}, uniform random "
            "inputs {random:.3g}".format(**summary["norms"])),
        "harmful_factors_raise_jacobian": (
            all(variants.get(v, {}).get("jac_test_mean", np.inf) > base
                for v in ("random_labels", "full_batch") if v in variants)
            and variants.get("tanh", {}).get("jac_test_mean", np.inf) > base,
            "mean test norm: " + ", ".join(f"{v} {e['jac_test_mean']:.3g}"
                                           for v, e in variants.items())
            + " (base = ReLU, true labels, the protocol's batch size)"),
        "jacobian_predicts_errors": (
            summary["error_auc"] > 0.5,
            f"mean ROC-AUC of the per-point norm for 'misclassified': {summary['error_auc']:.3f}"),
    }
    return [{"id": key, "protocol": summary["protocol"], "paper_says": STATEMENTS[key],
             "rule": "see measured", "measured": measured,
             "verdict": "holds" if ok else "does not hold", "holds": bool(ok)}
            for key, (ok, measured) in checks.items()]


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
        values = [np.nanmean([m[f"jac_{w}"] for m in ms]) for w in wheres]
        ax_norm.bar(np.arange(3) + 0.8 * i / len(models), values, width=0.8 / len(models),
                    label=variant)
    ax_norm.set_xticks(np.arange(3) + 0.4 - 0.4 / len(models), wheres)
    ax_norm.set(yscale="log", ylabel="mean Jacobian norm", title="Near vs away from data")
    return save_figure(fig, folder, "figS1_sensitivity")
