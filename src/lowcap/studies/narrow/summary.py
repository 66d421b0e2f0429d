"""Companion paper B's numbers from the store: each arm's best setting per (data set, width),
the matched comparisons at m ≈ 2n/d, and the verdict on the paper's sentence."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from lowcap.report.claims import Verdict
from lowcap.report.statistics import (
    INCONCLUSIVE,
    Decision,
    above,
    bootstrap_mean_ci,
    ci_text,
    undecided,
)
from lowcap.run.store import Store
from lowcap.studies.narrow.methods import best_setting

PAPER = ("projected_sgd@mirrored", "sgd@lecun")  # the paper's method, its baseline
# name → (treatment, baseline): each pairs an arm with its twin that differs in one thing.
COMPARISONS = {
    "paper": PAPER,
    "projection, mirrored start": ("projected_sgd@mirrored", "sgd@mirrored"),
    "projection, LeCun start": ("projected_sgd@lecun", "sgd@lecun"),
    "mirrored start, no projection": ("sgd@mirrored", "sgd@lecun"),
    "projection, full batch": ("projected_gd@mirrored", "gd@mirrored"),
    "projection, Adam": ("projected_adam@mirrored", "adam@mirrored"),
}
MIN_SEEDS = 5
ACTIVE = 0.5  # the constraint counts as active where at least this share of seeds end on it


def _runs(store: Store) -> dict:
    """(data set, width, arm, radius, lr) → {'ratio', 'steps', 'loss' {seed: [..]}, metric
    {seed: value}}."""
    out: dict = defaultdict(lambda: {"loss": defaultdict(list), "final": defaultdict(dict)})
    for row in store.results("narrow"):
        p = row["params"]
        if "start" not in p:  # a row of an earlier lowcap's design: `lowcap narrow` redoes it
            continue
        key = (p["dataset"], p["width"], f"{p['method']}@{p['start']}", p["radius"], p["lr"])
        entry = out[key]
        entry["ratio"] = p["ratio"]
        if row["metric"] == "loss":
            entry["loss"][p["seed"]].append((p["step"], row["value"]))
        else:
            entry["final"][row["metric"]][p["seed"]] = row["value"]
    return out


def _curves(per_seed: dict) -> tuple[list[int], np.ndarray]:
    """Steps [T] and values [seeds, T] (seeds in order)."""
    ordered = [sorted(points) for _, points in sorted(per_seed.items())]
    return ([s for s, _ in ordered[0]],
            np.array([[np.nan if v is None else v for _, v in run] for run in ordered]))


def steps_to(loss: np.ndarray, steps: list[int], threshold: float) -> float:
    """The first evaluated step where a loss curve is at most `threshold` (NaN: never)."""
    hit = np.flatnonzero(loss <= threshold)
    return float(steps[hit[0]]) if len(hit) else float("nan")


def _arm_entry(entry: dict, radius: float | None, lr: float, threshold: float) -> dict:
    """One arm's best setting at one width, in numbers."""
    steps, loss = _curves(entry["loss"])
    seeds = sorted(entry["loss"])
    final = entry["final"]
    out = {"radius": radius, "lr": lr, "seeds": seeds, "steps": steps,
           "loss_curve_mean": np.nanmean(loss, axis=0).tolist(),
           "final_loss": loss[:, -1].tolist(), "final_loss_mean": float(np.nanmean(loss[:, -1])),
           "steps_to_threshold": [steps_to(run, steps, threshold) for run in loss],
           "travelled": float(np.mean(list(final["travelled"].values()))),
           "on_boundary": float(np.mean(list(final["on_boundary"].values())))}
    for metric in ("test_accuracy", "sigma_min_start", "sigma_min_end"):
        if final.get(metric):
            out[metric] = [final[metric][s] for s in seeds]
    return out


def narrow_summary(store: Store, threshold: float, radii: list[float]) -> dict:
    """Per data set: each arm's best (radius, lr) at each width with its numbers, the matched
    comparisons at the width nearest 2n/d (paired by seed), the paper comparison at every
    width, and the verdict."""
    runs = _runs(store)
    if not runs:
        return {}
    grouped: dict = defaultdict(lambda: defaultdict(dict))
    for (data, width, arm, radius, lr), entry in runs.items():
        grouped[(data, width)].setdefault(arm, {})[(radius, lr)] = entry
    out: dict = defaultdict(lambda: {"widths": {}})
    for (data, width), arms in sorted(grouped.items()):
        entries = {}
        for arm, settings in arms.items():
            finals = {key: _curves(e["loss"])[1][:, -1] for key, e in settings.items()}
            radius, lr = best_setting(finals)
            entries[arm] = _arm_entry(settings[(radius, lr)], radius, lr, threshold)
        ratio = next(iter(next(iter(arms.values())).values()))["ratio"]
        out[data]["widths"][str(width)] = {"ratio": ratio, "arms": entries}
    for entry in out.values():
        widths = entry["widths"]
        near = min(widths, key=lambda m: abs(widths[m]["ratio"] - 1))
        entry["verdict_width"] = int(near)
        arms = widths[near]["arms"]
        entry["comparisons"] = {name: _compare(arms[a], arms[b]) for name, (a, b)
                                in COMPARISONS.items() if a in arms and b in arms}
        entry["paper_by_width"] = {m: _compare(w["arms"][PAPER[0]], w["arms"][PAPER[1]])
                                   for m, w in widths.items() if set(PAPER) <= set(w["arms"])}
        entry["radii"] = list(radii)
    return dict(out)


def _compare(treatment: dict, baseline: dict) -> dict:
    """Per seed log(baseline's final loss / treatment's) (> 0: the treatment trains lower),
    its mean and 95% bootstrap interval over seeds."""
    seeds = [s for s in treatment["seeds"] if s in baseline["seeds"]]
    t = dict(zip(treatment["seeds"], treatment["final_loss"], strict=True))
    b = dict(zip(baseline["seeds"], baseline["final_loss"], strict=True))
    with np.errstate(all="ignore"):
        values = np.log(np.array([b[s] for s in seeds]) / np.array([t[s] for s in seeds]))
    ci = bootstrap_mean_ci(values)
    return {"log_ratio_by_seed": values.tolist(), "mean": float(np.nanmean(values))
            if np.isfinite(values).any() else float("nan"), "ci": list(ci), "seeds": len(seeds)}


def verdict(entry: dict) -> Verdict:
    """The paper's sentence on one data set: projected SGD from the mirrored start trains
    lower than SGD from LeCun's start at m ≈ 2n/d (per-seed log ratio, 95% interval above 0).
    Inconclusive, whatever the interval, with fewer than MIN_SEEDS seeds, where the best
    radius lies at the grid's edge (the grid did not bracket it), or where the constraint is
    not active (fewer than ACTIVE of the seeds end on the ball's boundary: the projection
    did nothing)."""
    compared = entry.get("comparisons", {}).get("paper")
    if compared is None:
        return undecided(), "projected SGD (mirrored) or SGD (LeCun) was not run"
    arm = entry["widths"][str(entry["verdict_width"])]["arms"][PAPER[0]]
    ci = tuple(compared["ci"])
    decision = above(ci, 0.0)
    reasons = []
    if compared["seeds"] < MIN_SEEDS:
        reasons.append(f"{compared['seeds']} seeds (the rule needs {MIN_SEEDS})")
    if arm["radius"] in (min(entry["radii"]), max(entry["radii"])) and len(entry["radii"]) > 2:
        reasons.append(f"the best radius {arm['radius']:g}·‖W0‖ is at the grid's edge "
                       f"{entry['radii']}")
    if arm["on_boundary"] < ACTIVE:
        reasons.append(f"the constraint is active in {arm['on_boundary']:.0%} of the seeds")
    measured = (f"m = {entry['verdict_width']} (m/(2n/d) = "
                f"{entry['widths'][str(entry['verdict_width'])]['ratio']:.2f}): log(SGD loss / "
                f"projected SGD loss) per seed, mean {compared['mean']:+.3f}, 95% interval "
                f"{ci_text(ci)} over {compared['seeds']} seeds; projected SGD at R = "
                f"{arm['radius']:g}·‖W0‖, on its boundary in {arm['on_boundary']:.0%} of seeds")
    if reasons:  # the interval is shown, but no margin: no move of it would decide
        return (Decision(INCONCLUSIVE, interval=decision.interval, threshold=decision.threshold),
                measured + "; inconclusive: " + "; ".join(reasons))
    return decision, measured
