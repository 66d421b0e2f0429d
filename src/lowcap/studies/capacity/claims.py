"""§4.2's claims: capacity grows with difficulty, and the paper's minimum capacities."""

from __future__ import annotations

import numpy as np

from lowcap.report.claims import Claim, SeedValues, Verdict, listing
from lowcap.report.statistics import (
    BOOTSTRAP,
    FAILS,
    SEED,
    all_of,
    inside,
    probability_at_least,
    undecided,
)
from lowcap.studies.capacity.statistics import min_capacity_samples

# The paper's difficulty order, easiest first.
DIFFICULTY = ("0-1", "1-7", "5-6", "3-8", "4-9")
PAPER_MIN = {"0-1": (2, 6), "1-7": (8, 12), "5-6": (8, 12), "4-9": (12, 24)}


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
        return undecided(), "fewer than two of the paper's pairs were run (with seeds stored)"
    easy, hard = pairs[0], pairs[-1]
    # Independent resamples per pair: the pairs are different tasks.
    a, b = _samples(cap[easy], SEED), _samples(cap[hard], SEED + 1)
    p_greater = float(np.mean(b > a))
    # A resample where neither pair meets the rule says nothing about their order.
    p_not = float(np.mean((b < a) | ((b == a) & np.isfinite(a))))
    decision = probability_at_least(p_greater, p_not, 0.95)
    smallest = {p: cap[p]["f1_mean"][min(cap[p]["f1_mean"], key=int)] for p in pairs}
    rho = (float(np.corrcoef(range(len(pairs)), list(smallest.values()))[0, 1])
           if np.isfinite(list(smallest.values())).all() else float("nan"))
    mins = {p: _shown_min(cap[p]["min_hidden"]) for p in pairs}
    return decision, (f"P(min capacity of {hard} > of {easy}) = {p_greater:.3f}, P(≤, both "
                     f"met) = {p_not:.3f} over {BOOTSTRAP} seed-bootstrap resamples of each; "
                     f"min capacity {listing(mins)}; correlation of difficulty rank with F1 at the "
                     f"smallest width {rho:.2f}")


def _min_capacities(r: dict) -> Verdict:
    cap = r.get("capacity", {})
    checked = [p for p in PAPER_MIN if p in cap]
    if not checked or not _with_distribution(cap, checked):
        return undecided(), "none of the paper's pairs were run (with seeds stored)"
    parts, shown = [], {}
    for pair in checked:
        lo, hi = cap[pair]["min_hidden_ci"]  # NaN here: no width meets the rule
        parts.append(inside((lo, hi), *PAPER_MIN[pair]) if np.isfinite(lo) else undecided(FAILS))
        shown[pair] = (f"{_shown_min(cap[pair]['min_hidden'])} "
                       f"[{_shown_min(lo)}, {_shown_min(hi)}]")
    ranges = {p: f"{lo}–{hi}" for p, (lo, hi) in PAPER_MIN.items() if p in checked}
    return all_of(parts), (f"ours (95% seed-bootstrap interval; none = no width meets the "
                           f"rule) {listing(shown)}; paper's ranges {listing(ranges)}")


def seed_min_widths(entry: dict) -> dict[str, float]:
    """Per seed: the smallest width whose best validation F1 exceeds the rule's min_f1 (one
    seed alone has no std), twice the widest width where none does (a censored value)."""
    best, widths = _best(entry)
    censored = 2.0 * max(widths)
    out = {}
    for s, seed in enumerate(entry.get("seeds", [])):
        met = [h for h, f1 in zip(widths, best[:, s], strict=True) if f1 > entry["rule"]["min_f1"]]
        out[str(seed)] = float(met[0]) if met else censored
    return out


def _scales_quantity(r: dict) -> SeedValues:
    cap = r.get("capacity", {})
    pairs = [p for p in DIFFICULTY if p in cap and "seeds" in cap[p]]
    if len(pairs) < 2:
        return {}
    easy, hard = seed_min_widths(cap[pairs[0]]), seed_min_widths(cap[pairs[-1]])
    return {s: hard[s] - easy[s] for s in easy if s in hard}


def _min_quantity(r: dict) -> SeedValues:
    cap = r.get("capacity", {})
    per_pair = [seed_min_widths(cap[p]) for p in PAPER_MIN if p in cap and "seeds" in cap[p]]
    seeds = set.intersection(*(set(m) for m in per_pair)) if per_pair else set()
    return {s: float(np.mean([m[s] for m in per_pair])) for s in seeds}


CI = f"the 95% bootstrap interval ({BOOTSTRAP} resamples)"
CENSORED = "twice the widest width where none qualifies"
CLAIMS = (
    Claim("capacity_scales_with_difficulty", "The minimum capacity needed grows with task "
          "difficulty.", "statistic: P(min capacity of the hardest pair run > of the easiest), "
          "seeds of each pair resampled with replacement. Holds if ≥ 0.95, does not hold if "
          "P(≤, both met) ≥ 0.95, else inconclusive", _capacity_scales, _scales_quantity,
          "one seed's smallest width with best F1 > min_f1, hardest pair minus easiest "
          f"({CENSORED})"),
    Claim("min_capacities", "Min capacity ≈ 4 for (0,1), ≈ 10 for (1,7) and (5,6), 12–24 for "
          "(4,9).", "statistic: min capacity (F1 > min_f1 every seed, seed std < max_std) and "
          f"{CI} over seeds, per pair. Holds if every interval lies in the paper's range "
          "(≈ 4: 2–6, ≈ 10: 8–12), does not hold if one misses its range entirely",
          _min_capacities, _min_quantity, "one seed's smallest width with best F1 > min_f1, "
          f"mean over the paper's pairs run ({CENSORED})"),
)
