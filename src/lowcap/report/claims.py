"""The claims check: each finding of the paper as a testable rule, evaluated on our numbers.

Each study declares its rules (`Study.claims`); each rule reads one protocol's summary
section and returns a verdict — 'holds', 'does not hold' or 'inconclusive' — and the
evidence. Every rule decides on a stated statistic
(`lowcap.report.statistics`): a 95% bootstrap interval over seeds, images or points, a
seed-bootstrap probability, or a one-sided Wilcoxon test with Holm's correction; it is
'inconclusive' when that statistic cannot decide, and on missing data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lowcap.report.statistics import BOOTSTRAP
from lowcap.report.tables import map_leaves

Verdict = tuple[str, str]  # (verdict, measured)
CI = f"the 95% bootstrap interval ({BOOTSTRAP} resamples)"  # how rules name their interval


# A claim's measured quantity per seed: seed → value (NaN where a seed has none).
SeedValues = dict[str, float]


@dataclass(frozen=True)
class Claim:
    """A paper finding, its rule in words, and the function that checks it; where the rule
    rests on one number per seed, `quantity` gives it (a factorial design compares it across
    its cells) and `measures` names it."""

    id: str
    paper_says: str
    rule: str
    check: Callable[[dict], Verdict]
    quantity: Callable[[dict], SeedValues] | None = None
    measures: str = ""


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
    out = []
    for claim in claims:
        verdict, measured = claim.check(result)
        out.append({"id": claim.id, "protocol": protocol, "paper_says": claim.paper_says,
                    "rule": claim.rule, "measured": measured, "verdict": verdict,
                    "holds": verdict == "holds"})
    return out
