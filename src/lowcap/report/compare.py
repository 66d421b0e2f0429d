"""Two summaries side by side: which numbers moved and by how much, per summary section, and
whether their verdicts agree. The golden test and `benchmarks/spread.py` (the same run on
other CPUs) read runs through it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lowcap.report.statistics import rounding_floor


def flat_numbers(section, path: str = "") -> dict[str, float | None]:
    """A summary flattened to {path: number} ('/protocols/corrected/<section>/<key>/...');
    null numbers (NaN in the run) are None."""
    if isinstance(section, dict):
        return {k: v for key, value in section.items()
                for k, v in flat_numbers(value, f"{path}/{key}").items()}
    if isinstance(section, list):
        return {k: v for i, value in enumerate(section)
                for k, v in flat_numbers(value, f"{path}[{i}]").items()}
    if isinstance(section, bool) or not isinstance(section, int | float):
        return {}
    return {path: section}


def flat_others(section, path: str = "") -> dict:
    """Everything in a summary that is not a number: texts, verdicts, flags, and each
    mapping's sorted keys (so a key present in one summary only shows)."""
    if isinstance(section, dict):
        return {k: v for key, value in section.items()
                for k, v in flat_others(value, f"{path}/{key}").items()} | {path: sorted(section)}
    if isinstance(section, list):
        return {k: v for i, value in enumerate(section)
                for k, v in flat_others(value, f"{path}[{i}]").items()}
    if isinstance(section, int | float) and not isinstance(section, bool):
        return {}
    return {path: section}


def section_of(path: str) -> str:
    """The summary section a number belongs to, whatever the protocol: '<section>' for
    '/protocols/<protocol>/<section>/...' and '/<section>/...', 'claims' for
    '/claims[3]/margin'."""
    path = re.sub(r"^/protocols/[^/]+", "", path)
    return re.split(r"[/\[]", path.lstrip("/"), maxsplit=1)[0]


@dataclass
class Movement:
    """How far a section's numbers moved: the largest absolute and relative difference and
    how many numbers differ at all."""

    abs: float = 0.0
    rel: float = 0.0
    numbers: int = 0

    def add(self, a: float, b: float) -> None:
        self.abs = max(self.abs, abs(a - b))
        self.rel = max(self.rel, abs(a - b) / max(abs(a), abs(b)))
        self.numbers += 1


def differences(base: dict, other: dict) -> dict[str, Movement]:
    """Per section: how far the numbers of `other` lie from `base`'s (numbers in both)."""
    theirs = flat_numbers(other)
    out: dict[str, Movement] = {}
    for key, a in flat_numbers(base).items():
        b = theirs.get(key)
        if a is None or b is None or a == b:
            continue
        out.setdefault(section_of(key), Movement()).add(a, b)
    return out


def _claims(summary: dict) -> dict[tuple[str, str], dict]:
    return {(c["id"], c["protocol"]): c for c in summary.get("claims", [])}


def interval_shifts(base: dict, other: dict) -> dict[str, float]:
    """Per claim ('id/protocol'): the larger move of its deciding interval's two ends, as a
    fraction of the base interval's width (0: unmoved); an interval of width 0 (one value)
    counts as wide as float32 rounding of its ends (`rounding_floor`)."""
    theirs = _claims(other)
    out = {}
    for key, claim in _claims(base).items():
        a, b = claim.get("interval"), (theirs.get(key) or {}).get("interval")
        if not a or not b or None in a or None in b:
            continue
        moved = max(abs(a[0] - b[0]), abs(a[1] - b[1]))
        width = max(abs(a[1] - a[0]), rounding_floor(a))
        out["/".join(key)] = moved / width
    return out


def verdict_changes(base: dict, other: dict) -> list[str]:
    """Claims whose verdicts differ though neither summary marks them near threshold, and
    claims only one summary has."""
    theirs = _claims(other)
    ours = _claims(base)
    out = [f"{'/'.join(key)}: only in one summary" for key in ours.keys() ^ theirs.keys()]
    for key, claim in ours.items():
        twin = theirs.get(key)
        if twin and claim["verdict"] != twin["verdict"] and not (
                claim.get("near_threshold") or twin.get("near_threshold")):
            out.append(f"{'/'.join(key)}: {claim['verdict']} → {twin['verdict']}")
    return out


# Fields of a claim that follow its verdict: compared only where neither summary marks it
# near threshold (its numbers are compared like every other number).
VERDICT_FIELDS = ("verdict", "holds", "near_threshold")


def mismatches(summary: dict, golden: dict, tolerance: dict[str, float],
               floor: tuple[float, float] = (1e-5, 1e-7)) -> list[str]:
    """Where `summary` departs from `golden` by more than numbers move between machines:
    a number further than its section's `tolerance` (absolute, from a measured spread; a
    section without one: `floor` = (relative, absolute), float rounding), a verdict that
    changed though not near threshold, or any other field (texts compared without their
    digits, which the numbers cover). Empty when they agree."""
    out = []
    golden_numbers, numbers = flat_numbers(golden), flat_numbers(summary)
    out += [f"{key}: in one summary only" for key in golden_numbers.keys() ^ numbers.keys()]
    rel, absolute = floor
    for key, expected in golden_numbers.items():
        value = numbers.get(key, expected)
        if expected is None or value is None:
            if (expected is None) != (value is None):
                out.append(f"{key}: {value} (golden {expected})")
            continue
        allowed = max(tolerance.get(section_of(key), 0.0), absolute + rel * abs(expected))
        if abs(value - expected) > allowed:
            out.append(f"{key}: {value!r} (golden {expected!r}, allowed ±{allowed:.2g})")
    out += verdict_changes(golden, summary)
    ours, theirs = flat_others(_without_verdicts(summary)), flat_others(
        _without_verdicts(golden))
    out += [f"{key}: {ours.get(key)!r} (golden {theirs.get(key)!r})"
            for key in sorted(ours.keys() | theirs.keys())
            if _without_digits(ours.get(key)) != _without_digits(theirs.get(key))]
    return out


def _without_verdicts(summary: dict) -> dict:
    """The summary with its claims' verdict fields left out (`verdict_changes` compares
    them)."""
    claims = [{k: v for k, v in c.items() if k not in VERDICT_FIELDS}
              for c in summary.get("claims", [])]
    protocols = {name: {**section, "claims": [
        {k: v for k, v in c.items() if k not in VERDICT_FIELDS} for c in section["claims"]]}
        for name, section in summary.get("protocols", {}).items()}
    return {**summary, "claims": claims, "protocols": protocols}


_NUMBER = re.compile(r"[+\-−]?(?:\d+\.?\d*|\.\d+)(?:[eE][+\-]?\d+)?|\bnan\b|\binf\b")


def _without_digits(value):
    """Texts compared with every number (sign included) as '#': a claim's evidence prints
    numbers that the number comparison already covers, to a tolerance."""
    return _NUMBER.sub("#", value) if isinstance(value, str) else value
