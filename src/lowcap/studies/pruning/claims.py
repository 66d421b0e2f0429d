"""§4.3's claims: robustness to one-shot magnitude pruning, and pruning as a regulariser."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lowcap.report.claims import CI, Claim, SeedValues, Verdict, listing
from lowcap.report.statistics import (
    ALPHA,
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    above,
    all_of,
    bootstrap_mean_ci,
    ci_text,
    holm,
    inside,
    p_value_below,
    signed_rank_p,
    undecided,
)


def _by_seed(r: dict, keep: Callable[[float], bool], method: str = "layerwise"
             ) -> dict[str, dict[str, float]]:
    """pair → seed → that seed's % change in F1, averaged over widths and the levels `keep`
    accepts."""
    pruning = r.get("pruning_methods", {}).get(method, {})
    out = {}
    for pair, widths in pruning.items():
        by_seed: dict[str, list[float]] = {}
        for levels in widths.values():
            for key, e in levels.items():
                if keep(float(key)):
                    for seed, change in e.get("pct_change_by_seed", {}).items():
                        by_seed.setdefault(seed, []).append(change)
        means = {s: float(np.nanmean(v)) for s, v in by_seed.items() if np.isfinite(v).any()}
        if means:
            out[pair] = means
    return out


def _at(level: float) -> Callable[[float], bool]:
    return lambda key: abs(key - level) < 1e-9


def _seed_changes(r: dict, level: float, method: str = "layerwise") -> dict[str, np.ndarray]:
    """pair → each seed's % change in F1 at `level`, averaged over widths."""
    return {pair: np.array(list(seeds.values()))
            for pair, seeds in _by_seed(r, _at(level), method).items()}


def _pooled(per_pair: dict[str, dict[str, float]]) -> SeedValues:
    """Per seed: the mean over pairs (seeds every pair has)."""
    if not per_pair:
        return {}
    seeds = set.intersection(*(set(v) for v in per_pair.values()))
    return {s: float(np.mean([v[s] for v in per_pair.values()])) for s in seeds}


def _pruned_above(r: dict, level: float, method: str) -> Verdict:
    changes = _seed_changes(r, level, method)
    if not changes:
        return undecided(), f"no {method} pruning results at {level:.0%}"
    cis = {p: bootstrap_mean_ci(v) for p, v in changes.items()}
    shown = {p: f"{np.mean(changes[p]):+.2f}% {ci_text(ci, '+.2f')}" for p, ci in cis.items()}
    return all_of([above(ci, -1.0) for ci in cis.values()]), (
        f"% change in F1 at {level:.0%}, mean over widths and seeds [95% bootstrap interval "
        f"over seeds]: {listing(shown)}")


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
        return undecided(), "no (0,1) pruning results at 99%"
    ci = bootstrap_mean_ci(changes)
    return inside(ci, -0.1, 0.1), (f"(0,1) % change at 99%, mean over widths and seeds "
                                   f"{np.mean(changes):+.3f}% {ci_text(ci)} (95% bootstrap "
                                   f"interval over seeds)")


def _regulariser(r: dict) -> Verdict:
    methods = r.get("pruning_methods", {}).get("layerwise", {})
    if not methods:
        return undecided(), "no pruning results"
    cells = {pair: np.array([e["pct_change_f1"] for levels in widths.values()
                             for level, e in levels.items() if 0.5 <= float(level) <= 0.95])
             for pair, widths in methods.items()}
    greater = holm([signed_rank_p(v, "greater") for v in cells.values()])
    pooled = np.concatenate(list(cells.values()))
    p_less = signed_rank_p(pooled, "less")
    gains = {p: int((v > 0).sum()) for p, v in cells.items()}
    losses = {p: int((v < 0).sum()) for p, v in cells.items()}
    verdict = HOLDS if min(greater) < ALPHA else FAILS if p_less < ALPHA else INCONCLUSIVE
    # The p-value nearest ALPHA of those whose crossing would change the verdict.
    deciding = [min(greater)] if verdict == HOLDS else [min(greater), p_less]
    decision = min((p_value_below(p, verdict) for p in deciding), key=lambda d: d.margin)
    adjusted = {p: round(q, 4) for p, q in zip(cells, greater, strict=True)}
    return decision, (f"(width, level) cells at 50–95% sparsity, seed-mean % change in F1: "
                     f"better {listing(gains)}; worse {listing(losses)}; one-sided Wilcoxon "
                     f"signed-rank 'better' per pair, Holm-adjusted p {listing(adjusted)}; "
                     f"'worse' over all cells p = {p_less:.2g}")


CLAIMS = (
    Claim("pruning_robust_95", "Trained networks are robust to magnitude pruning up to 95% "
          "sparsity.", "statistic: each seed's % change in validation F1 at 95% layerwise "
          f"pruning, averaged over widths; {CI} of its mean over seeds, per pair. Holds if "
          "every interval lies above −1%, does not hold if one lies below", _pruning_95,
          lambda r: _pooled(_by_seed(r, _at(0.95))), "one seed's % change in F1 at 95% "
          "layerwise pruning, mean over widths and pairs"),
    Claim("pruning_robust_95_reference_code", "(As the paper's public code measures it) F1 is "
          "unchanged by '95%' pruning.", "the same statistic and rule, pruning with the code's "
          "fraction/100", _pruning_95_reference_code,
          lambda r: _pooled(_by_seed(r, _at(0.95), "layerwise_refscale")), "one seed's % "
          "change in F1 at the code's '95%', mean over widths and pairs"),
    Claim("pruning_99_easy_task", "For (0,1) there is no discernible drop even at 99% "
          "pruning.", f"statistic: (0,1)'s % change at 99%, as above, with {CI} over seeds. "
          "Holds if the interval lies within ±0.1%, does not hold if it misses it entirely",
          _pruning_99_easy, lambda r: _by_seed(r, _at(0.99)).get("0-1", {}),
          "one seed's (0,1) % change in F1 at 99%, mean over widths",
          applies=lambda r: any("0-1" in pairs for pairs in  # a run without (0,1): no claim
                                r.get("pruning_methods", {}).values())),
    Claim("pruning_regulariser", "Pruning can act as a regulariser: F1 slightly increases at "
          "moderate-to-high sparsity.", "statistic: one-sided Wilcoxon signed-rank test over the "
          "(width, level) cells at 50–95% of each pair (seed-mean % change; ties dropped), "
          "Holm-corrected over pairs; cells share models, so the test is a screen, not an exact "
          "p. Holds if some pair improves at 5%, does not hold if none does and all cells "
          "together are worse at 5%, else inconclusive", _regulariser,
          lambda r: _pooled(_by_seed(r, lambda level: 0.5 <= level <= 0.95)),
          "one seed's % change in F1 at 50–95% sparsity, mean over levels, widths and pairs"),
)
