"""The claims check: each finding of the paper as a testable rule, evaluated on our numbers.

Each rule reads one protocol's summary section and returns a verdict — 'holds', 'does not
hold' or 'inconclusive' — and the evidence. Every rule decides on a stated statistic
(`lowcap.report.statistics`): a 95% bootstrap interval over seeds, images or points, a
seed-bootstrap probability, or a one-sided Wilcoxon test with Holm's correction; it is
'inconclusive' when that statistic cannot decide, and on missing data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lowcap.report.statistics import (
    ALPHA,
    BOOTSTRAP,
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    SEED,
    above,
    all_of,
    bootstrap_mean_ci,
    ci_text,
    holm,
    inside,
    min_capacity_samples,
    signed_rank_p,
)
from lowcap.report.tables import map_leaves

# The paper's difficulty order, easiest first.
DIFFICULTY = ("0-1", "1-7", "5-6", "3-8", "4-9")
PAPER_MIN = {"0-1": (2, 6), "1-7": (8, 12), "5-6": (8, 12), "4-9": (12, 24)}
Verdict = tuple[str, str]  # (verdict, measured)


@dataclass(frozen=True)
class Claim:
    """A paper finding, its rule in words, and the function that checks it."""

    id: str
    paper_says: str
    rule: str
    check: Callable[[dict], Verdict]


def _best(entry: dict) -> tuple[np.ndarray, list[int]]:
    """A capacity entry's best F1 [widths, seeds] and its widths."""
    widths = sorted(entry["f1_by_seed"], key=int)
    return np.array([entry["f1_by_seed"][h] for h in widths], dtype=float), [int(h) for h in widths]


def _samples(entry: dict, seed: int) -> np.ndarray:
    best, widths = _best(entry)
    rule = entry["rule"]
    return min_capacity_samples(best, widths, rule["min_f1"], rule["max_std"], seed=seed)


def _shown_min(min_hidden: float) -> str:
    """A minimum capacity as text ('none' where no width met the rule: NaN here)."""
    return str(int(min_hidden)) if np.isfinite(min_hidden) else "none"


def _with_distribution(cap: dict, pairs: list[str]) -> bool:
    return all("min_hidden_ci" in cap[p] for p in pairs)


def _capacity_scales(r: dict) -> Verdict:
    cap = r.get("capacity", {})
    pairs = [p for p in DIFFICULTY if p in cap]
    if len(pairs) < 2 or not _with_distribution(cap, pairs):
        return INCONCLUSIVE, "fewer than two of the paper's pairs were run (with seeds stored)"
    easy, hard = pairs[0], pairs[-1]
    # Independent resamples per pair: the pairs are different tasks.
    a, b = _samples(cap[easy], SEED), _samples(cap[hard], SEED + 1)
    p_greater = float(np.mean(b > a))
    # A resample where neither pair meets the rule says nothing about their order.
    p_not = float(np.mean((b < a) | ((b == a) & np.isfinite(a))))
    verdict = HOLDS if p_greater >= 0.95 else FAILS if p_not >= 0.95 else INCONCLUSIVE
    smallest = {p: cap[p]["f1_mean"][min(cap[p]["f1_mean"], key=int)] for p in pairs}
    rho = (float(np.corrcoef(range(len(pairs)), list(smallest.values()))[0, 1])
           if np.isfinite(list(smallest.values())).all() else float("nan"))
    mins = {p: _shown_min(cap[p]["min_hidden"]) for p in pairs}
    return verdict, (f"P(min capacity of {hard} > of {easy}) = {p_greater:.3f}, P(≤, both "
                     f"met) = {p_not:.3f} over {BOOTSTRAP} seed-bootstrap resamples of each; "
                     f"min capacity {mins}; correlation of difficulty rank with F1 at the "
                     f"smallest width {rho:.2f}")


def _min_capacities(r: dict) -> Verdict:
    cap = r.get("capacity", {})
    checked = [p for p in PAPER_MIN if p in cap]
    if not checked or not _with_distribution(cap, checked):
        return INCONCLUSIVE, "none of the paper's pairs were run (with seeds stored)"
    parts, shown = [], {}
    for pair in checked:
        lo, hi = cap[pair]["min_hidden_ci"]  # NaN here: no width meets the rule
        parts.append(inside((lo, hi), *PAPER_MIN[pair]) if np.isfinite(lo) else FAILS)
        shown[pair] = (f"{_shown_min(cap[pair]['min_hidden'])} "
                       f"[{_shown_min(lo)}, {_shown_min(hi)}]")
    ranges = {p: f"{lo}–{hi}" for p, (lo, hi) in PAPER_MIN.items() if p in checked}
    return all_of(parts), (f"ours (95% seed-bootstrap interval; none = no width meets the "
                           f"rule) {shown}; paper's ranges {ranges}")


def _seed_changes(r: dict, level: float, method: str = "layerwise") -> dict[str, np.ndarray]:
    """pair → each seed's % change in F1 at `level`, averaged over widths."""
    pruning = r.get("pruning_methods", {}).get(method, {})
    out = {}
    for pair, widths in pruning.items():
        by_seed: dict[str, list[float]] = {}
        for levels in widths.values():
            for key, e in levels.items():
                if abs(float(key) - level) < 1e-9:
                    for seed, change in e.get("pct_change_by_seed", {}).items():
                        by_seed.setdefault(seed, []).append(change)
        values = [np.nanmean(v) for v in by_seed.values() if np.isfinite(v).any()]
        if values:
            out[pair] = np.array(values)
    return out


def _pruned_above(r: dict, level: float, method: str) -> Verdict:
    changes = _seed_changes(r, level, method)
    if not changes:
        return INCONCLUSIVE, f"no {method} pruning results at {level:.0%}"
    cis = {p: bootstrap_mean_ci(v) for p, v in changes.items()}
    shown = {p: f"{np.mean(changes[p]):+.2f}% {ci_text(ci, '+.2f')}" for p, ci in cis.items()}
    return all_of([above(ci, -1.0) for ci in cis.values()]), (
        f"% change in F1 at {level:.0%}, mean over widths and seeds [95% bootstrap interval "
        f"over seeds]: {shown}")


def _pruning_95(r: dict) -> Verdict:
    verdict, measured = _pruned_above(r, 0.95, "layerwise")
    if "layerwise_nearest" in r.get("pruning_methods", {}):
        other, text = _pruned_above(r, 0.95, "layerwise_nearest")
        measured += f"; with k = round(s·n) instead of int(s·n): {other} ({text})"
    return verdict, measured


def _pruning_95_reference_code(r: dict) -> Verdict:
    verdict, measured = _pruned_above(r, 0.95, "layerwise_refscale")
    return verdict, ("with the public code's fractions (÷100: '95%' prunes 0.95% of layer 1, "
                     "none of layer 2): " + measured)


def _pruning_99_easy(r: dict) -> Verdict:
    changes = _seed_changes(r, 0.99).get("0-1")
    if changes is None:
        return INCONCLUSIVE, "no (0,1) pruning results at 99%"
    ci = bootstrap_mean_ci(changes)
    return inside(ci, -0.1, 0.1), (f"(0,1) % change at 99%, mean over widths and seeds "
                                   f"{np.mean(changes):+.3f}% {ci_text(ci)} (95% bootstrap "
                                   f"interval over seeds)")


def _regulariser(r: dict) -> Verdict:
    methods = r.get("pruning_methods", {}).get("layerwise", {})
    if not methods:
        return INCONCLUSIVE, "no pruning results"
    cells = {pair: np.array([e["pct_change_f1"] for levels in widths.values()
                             for level, e in levels.items() if 0.5 <= float(level) <= 0.95])
             for pair, widths in methods.items()}
    greater = holm([signed_rank_p(v, "greater") for v in cells.values()])
    pooled = np.concatenate(list(cells.values()))
    p_less = signed_rank_p(pooled, "less")
    gains = {p: int((v > 0).sum()) for p, v in cells.items()}
    losses = {p: int((v < 0).sum()) for p, v in cells.items()}
    verdict = HOLDS if min(greater) < ALPHA else FAILS if p_less < ALPHA else INCONCLUSIVE
    return verdict, (f"(width, level) cells at 50–95% sparsity, seed-mean % change in F1: "
                     f"better {gains}, worse {losses}; one-sided Wilcoxon signed-rank 'better' "
                     f"per pair, Holm-adjusted p = "
                     f"{ {p: round(q, 4) for p, q in zip(cells, greater, strict=True)} }; "
                     f"'worse' over all cells p = {p_less:.2g}")


def _dead_neurons(r: dict) -> Verdict:
    rows = r.get("dead_neurons", [])
    if not rows:
        return INCONCLUSIVE, "no dead-neuron results"
    dead = [(x["pair"], x["hidden"], x["seed"], x["before"], x["after_95"]) for x in rows
            if x["before"] or x["after_95"]]
    verdict = HOLDS if not dead else FAILS
    cut = [x.get("disconnected_after") for x in rows]
    extra = (f"; disconnected after pruning: {cut}" if all(c is not None for c in cut) else "")
    return verdict, (f"{len(dead)} of {len(rows)} models with a dead unit (an exact count: "
                     f"no sampling); with dead units (pair, h, seed, before, after): "
                     f"{dead or 'none'}{extra}")


def _tsne(r: dict) -> Verdict:
    agree = r.get("tsne_agreement", {})
    if "pruned_minus_dense_ci" not in agree:
        return INCONCLUSIVE, "no per-point t-SNE agreement stored (rerun the t-SNE phase)"
    ci = tuple(agree["pruned_minus_dense_ci"])
    live = agree.get("pruned_live_minus_dense_ci")
    live_text = (f"; the pruned model's live units alone: {agree['pruned_live']:.3f}, "
                 f"difference {ci_text(tuple(live))}" if live else "")
    return above(ci, -0.02), (
        f"per-point 10-NN label agreement in 2-D (leave-one-out), dense {agree['dense']:.3f}, "
        f"pruned {agree['pruned']:.3f}; pruned − dense 95% bootstrap interval over "
        f"{agree['points']} points {ci_text(ci)}{live_text}")


def _width_difference(per_seed_small: dict, per_seed_large: dict) -> np.ndarray:
    """Per seed present in both: large − small."""
    seeds = sorted(set(per_seed_small) & set(per_seed_large), key=int)
    return np.array([per_seed_large[s] - per_seed_small[s] for s in seeds], dtype=float)


def _noise(r: dict) -> Verdict:
    gauss = r.get("robustness", {}).get("gaussian_by_seed", {})
    if len(gauss) < 2:
        return INCONCLUSIVE, "fewer than two widths evaluated under noise"
    small, large = min(gauss, key=int), max(gauss, key=int)
    sigmas = [s for s in gauss[small] if float(s) > 0 and s in gauss[large]]
    if not sigmas:
        return INCONCLUSIVE, "no σ > 0 evaluated"
    diffs = np.array([_width_difference(gauss[small][s], gauss[large][s]) for s in sigmas]).T
    ci = bootstrap_mean_ci(diffs)  # rows: seeds; mean over σ too
    return above(ci, 0.0), (f"F1(h={large}) − F1(h={small}) averaged over {len(sigmas)} σ > 0: "
                            f"{np.nanmean(diffs):+.4f}, 95% bootstrap interval over seeds "
                            f"{ci_text(ci, '+.4f')}")


def _occlusion(r: dict) -> Verdict:
    rob = r.get("robustness", {})
    occ = rob.get("occlusion_by_seed", {})
    if len(occ) < 2:
        return INCONCLUSIVE, "fewer than two widths evaluated under occlusion"
    small, large = min(occ, key=int), max(occ, key=int)
    ci = bootstrap_mean_ci(_width_difference(occ[small], occ[large]))
    mean = rob.get("occlusion", {})
    shown = {h: f"{mean[h]:.3f}" for h in sorted(mean, key=int)}
    return above(ci, 0.0), (f"occlusion F1 by width {shown} (paper 0.847 / 0.860 / 0.862 for "
                            f"24 / 48 / 64); h={large} − h={small}: 95% bootstrap interval over "
                            f"seeds {ci_text(ci, '+.4f')}")


def _saliency(r: dict) -> Verdict:
    m = r.get("saliency", {}).get("magnitude", {})
    if "spearman_undefined_as_zero_ci" not in m:
        return INCONCLUSIVE, "no per-image saliency agreement stored (rerun the saliency phase)"
    ci, diff = tuple(m["spearman_undefined_as_zero_ci"]), tuple(m["minus_random_ci"])
    return all_of([above(ci, 0.8), above(diff, 0.0)]), (
        f"Spearman(dense, 95% magnitude-pruned) over {m['images']} images, "
        f"{int(m['undefined_maps'])} with a constant pruned output counted as 0: mean "
        f"{m['spearman_mean_undefined_as_zero']:.3f}, 95% bootstrap interval {ci_text(ci)}; "
        f"minus random pruning (paired) {ci_text(diff)}; leaving undefined maps out: "
        f"{m['spearman_mean']:.3f}")


CI = f"the 95% bootstrap interval ({BOOTSTRAP} resamples)"
CLAIMS = (
    Claim("capacity_scales_with_difficulty", "The minimum capacity needed grows with task "
          "difficulty.", "statistic: P(min capacity of the hardest pair run > of the easiest), "
          "seeds of each pair resampled with replacement. Holds if ≥ 0.95, does not hold if "
          "P(≤, both met) ≥ 0.95, else inconclusive", _capacity_scales),
    Claim("min_capacities", "Min capacity ≈ 4 for (0,1), ≈ 10 for (1,7) and (5,6), 12–24 for "
          "(4,9).", "statistic: min capacity (F1 > min_f1 every seed, seed std < max_std) and "
          f"{CI} over seeds, per pair. Holds if every interval lies in the paper's range "
          "(≈ 4: 2–6, ≈ 10: 8–12), does not hold if one misses its range entirely",
          _min_capacities),
    Claim("pruning_robust_95", "Trained networks are robust to magnitude pruning up to 95% "
          "sparsity.", "statistic: each seed's % change in validation F1 at 95% layerwise "
          f"pruning, averaged over widths; {CI} of its mean over seeds, per pair. Holds if "
          "every interval lies above −1%, does not hold if one lies below", _pruning_95),
    Claim("pruning_robust_95_reference_code", "(As the paper's public code measures it) F1 is "
          "unchanged by '95%' pruning.", "the same statistic and rule, pruning with the code's "
          "fraction/100", _pruning_95_reference_code),
    Claim("pruning_99_easy_task", "For (0,1) there is no discernible drop even at 99% "
          "pruning.", f"statistic: (0,1)'s % change at 99%, as above, with {CI} over seeds. "
          "Holds if the interval lies within ±0.1%, does not hold if it misses it entirely",
          _pruning_99_easy),
    Claim("pruning_regulariser", "Pruning can act as a regulariser: F1 slightly increases at "
          "moderate-to-high sparsity.", "statistic: one-sided Wilcoxon signed-rank test over the "
          "(width, level) cells at 50–95% of each pair (seed-mean % change; ties dropped), "
          "Holm-corrected over pairs; cells share models, so the test is a screen, not an exact "
          "p. Holds if some pair improves at 5%, does not hold if none does and all cells "
          "together are worse at 5%, else inconclusive", _regulariser),
    Claim("zero_dead_neurons", "No dead neurons before or after 95% pruning (Table 1).",
          "statistic: the exact count of units with zero ReLU output on every validation image, "
          "per Table 1 model and seed (no sampling). Holds if every count is 0", _dead_neurons),
    Claim("tsne_clusters_preserved", "t-SNE clusters are preserved after 95% pruning.",
          "statistic: each point's leave-one-out 10-NN label agreement in the 2-D embedding, "
          f"pruned − dense (the same points), {CI} of the mean over points. Holds if the "
          "interval lies above −0.02, does not hold if below", _tsne),
    Claim("noise_robustness_grows_with_width", "Over-parameterised models are more robust to "
          "Gaussian noise.", "statistic: per seed, test F1 of the widest minus the narrowest "
          f"model averaged over σ > 0; {CI} of its mean over seeds. Holds if the interval lies "
          "above 0, does not hold if below", _noise),
    Claim("occlusion_robustness_grows_with_width", "Larger models are more robust to "
          "occlusion.", "statistic: per seed, occluded test F1 of the widest minus the "
          f"narrowest model; {CI} of its mean over seeds. Holds above 0, does not hold below",
          _occlusion),
    Claim("pruned_saliency_preserved", "The 95%-pruned subnetwork keeps the dense model's "
          "reasoning (saliency).", "statistic: per-image Spearman of dense vs pruned maps "
          f"(undefined, for a constant pruned output, counted as 0), {CI} over images of its "
          "mean and of its paired difference from random pruning. Holds if the first lies above "
          "0.8 and the second above 0, does not hold if either lies below", _saliency),
)


def check_claims(protocol: str, result: dict) -> list[dict]:
    """Every claim evaluated on one protocol's summary section (missing numbers, null in the
    summary, count as NaN: a rule never decides on them)."""
    result = map_leaves(result, lambda v: float("nan") if v is None else v)
    out = []
    for claim in CLAIMS:
        verdict, measured = claim.check(result)
        out.append({"id": claim.id, "protocol": protocol, "paper_says": claim.paper_says,
                    "rule": claim.rule, "measured": measured, "verdict": verdict,
                    "holds": verdict == "holds"})
    return out

