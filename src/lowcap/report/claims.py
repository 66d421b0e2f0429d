"""The claims check: each finding of the paper as a testable rule, evaluated on our numbers.

Each study declares its rules (`Study.claims`); each rule reads one protocol's summary
section and returns a verdict — 'holds', 'does not hold' or 'inconclusive', and
'negligible' where a rule holds its effect to a practical threshold — and the evidence. Every
rule decides on a stated statistic (`lowcap.report.statistics`): a 95% bootstrap interval over
seeds, images or points, a seed-bootstrap probability, or a one-sided Wilcoxon test with
Holm's correction; it is 'inconclusive' when that statistic cannot decide, and on missing
data; 'negligible' when the statistic supports the claim but its effect is smaller than the
practical threshold.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from lowcap.report.statistics import (
    BOOTSTRAP,
    Decision,
    above,
    below,
    bootstrap_mean_ci,
    ci_text,
    practical,
)
from lowcap.report.tables import map_leaves

# (the decision, or a bare verdict without a statistic; the measured numbers in words)
Verdict = tuple[Decision | str, str]
CI = f"the 95% bootstrap interval ({BOOTSTRAP} resamples)"  # how rules name their interval
# The paper's two readings; any other protocol is a companion study's.
PAPER_PROTOCOLS = ("reference", "corrected")


# A claim's measured quantity per seed: seed → value (NaN where a seed has none).
SeedValues = dict[str, float]


@dataclass(frozen=True)
class Claim:
    """A paper finding, its rule in words, and the function that checks it; where the rule
    rests on one number per seed, `quantity` gives it (a factorial design compares it across
    its cells) and `measures` names it. `applies` says whether a run's summary section is one
    the claim can speak about at all (e.g. it has the claim's digit pair); a claim that does
    not apply is left out of the run's claims, not reported inconclusive."""

    id: str
    paper_says: str
    rule: str
    check: Callable[[dict], Verdict]
    quantity: Callable[[dict], SeedValues] | None = None
    measures: str = ""
    applies: Callable[[dict], bool] | None = None


def widest_minus_smallest(groups: Iterable[dict[str, dict[str, float]]],
                           value: Callable[[float], float] = float) -> SeedValues:
    """Per seed: value(the widest model's number) − value(the smallest width's), mean over
    the groups ({width: {seed: number}}, e.g. one per pair) where the seed has both;
    differences that are not finite are left out."""
    differences: dict[str, list[float]] = {}
    for widths in groups:
        if len(widths) < 2:
            continue
        small, large = widths[min(widths, key=int)], widths[max(widths, key=int)]
        for seed in small:
            if seed in large:
                with np.errstate(all="ignore"):
                    difference = value(large[seed]) - value(small[seed])
                if np.isfinite(difference):
                    differences.setdefault(seed, []).append(float(difference))
    return {seed: float(np.mean(d)) for seed, d in sorted(differences.items(),
                                                           key=lambda kv: int(kv[0]))}


def seed_effect(per_seed: SeedValues, statistic: str, min_effect: float,
                direction: str = "above", fmt: str = "+.4f", unit: str = "") -> Verdict:
    """The common rule on one number per seed: holds where the bootstrap interval of its mean
    lies above 0 (`direction` "below": below 0) and the mean is at least `min_effect` in size
    (negligible if smaller); the evidence reads '<statistic>: <mean><unit>, 95% bootstrap
    interval over <k> seeds [low, high]'. `per_seed` must not be empty."""
    values = np.array(list(per_seed.values()), dtype=float)
    ci, effect = bootstrap_mean_ci(values), float(np.nanmean(values))
    side = above if direction == "above" else below
    return (practical(side(ci, 0.0), effect, min_effect),
            f"{statistic}: {effect:{fmt}}{unit}, 95% bootstrap interval over {len(values)} "
            f"seeds {ci_text(ci, fmt)}")


def listing(values: dict) -> str:
    """A mapping as plain words for a claim's evidence: '(a: 1; b: 2)', not Python's dict
    text."""
    if not values:
        return "none"
    return "(" + "; ".join(f"{key}: {value}" for key, value in values.items()) + ")"


def check_claims(protocol: str, result: dict, claims: Iterable[Claim]) -> list[dict]:
    """`claims` evaluated on one protocol's summary section (missing numbers, null in the
    summary, count as NaN: a rule never decides on them)."""
    result = map_leaves(result, lambda v: float("nan") if v is None else v)
    return [claim_record(claim.id, protocol, claim.paper_says, claim.rule, *claim.check(result))
            for claim in claims if claim.applies is None or claim.applies(result)]


def claim_record(claim_id: str, protocol: str, paper_says: str, rule: str,
                 decision: Decision | str, measured: str) -> dict:
    """A checked claim as summary.json holds it: the verdict, the deciding interval and
    threshold, the margin to it and the numerical spread (both in the statistic's unit), and
    whether the margin is within the spread (`near_threshold`: another machine may say
    otherwise). A bare verdict (a study's own rule may return one) has no margin."""
    if isinstance(decision, str):
        decision = Decision(decision)
    return {"id": claim_id, "protocol": protocol, "paper_says": paper_says, "rule": rule,
            "measured": measured, "verdict": decision.verdict,
            "holds": decision.verdict == "holds",
            "near_threshold": decision.near_threshold,
            "margin": decision.margin, "spread": decision.spread,
            "interval": None if decision.interval is None else list(decision.interval),
            "threshold": list(decision.threshold),
            "effect": decision.effect, "min_effect": decision.min_effect}


def claim_tables(claims: list[dict]) -> list[tuple[list[str], list[dict]]]:
    """The claims as the report and the README tabulate them, (protocols, claims) per table:
    the paper's claims under the paper protocols that ran, then each companion study's
    protocol on its own (so no table has a column of dashes)."""
    seen = {c["protocol"] for c in claims}
    paper = [p for p in PAPER_PROTOCOLS if p in seen]
    tables = [(paper, [c for c in claims if c["protocol"] in paper])] if paper else []
    return tables + [([p], [c for c in claims if c["protocol"] == p])
                     for p in sorted(seen - set(PAPER_PROTOCOLS))]


def by_claim(claims: list[dict]) -> dict[str, dict[str, dict]]:
    """Claim id → protocol → its record, in first-appearance order."""
    rows: dict[str, dict[str, dict]] = {}
    for claim in claims:
        rows.setdefault(claim["id"], {})[claim["protocol"]] = claim
    return rows


def margin_text(claim: dict) -> str:
    """A checked claim's margin in words: 'margin 0.0021 to −0.02', or 'near threshold:
    margin 0.0011 ≤ spread 0.0057' where the margin lies within the numerical spread; '' for
    a verdict reached without a statistic."""
    margin, spread = claim.get("margin"), claim.get("spread")
    if margin is None or not math.isfinite(margin):
        return ""
    bounds = " and ".join(_number(t) for t in claim["threshold"])
    if claim.get("near_threshold"):
        words = f"near threshold: margin {_number(margin)} to {bounds} ≤ spread {_number(spread)}"
    else:
        words = f"margin {_number(margin)} to {bounds}"
    effect, least = claim.get("effect"), claim.get("min_effect")
    if effect is not None and least is not None and math.isfinite(effect):
        relation = "within" if abs(effect) < least else "beyond"
        words += f"; effect {_number(effect, '+.3g')}, {relation} practical ±{_number(least)}"
    return words


def _number(value: float, fmt: str = ".3g") -> str:
    return f"{value:{fmt}}".replace("-", "−")
