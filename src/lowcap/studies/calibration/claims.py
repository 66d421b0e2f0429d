"""The calibration study's claim: wider models are worse calibrated (Guo et al. 2017)."""

from __future__ import annotations

from lowcap.report.claims import (
    CI,
    Claim,
    SeedValues,
    Verdict,
    listing,
    seed_effect,
    widest_minus_smallest,
)
from lowcap.report.statistics import undecided


def _per_seed(r: dict) -> SeedValues:
    """Per seed: ECE of the widest minus the narrowest model, mean over the pairs where the
    seed has both."""
    return widest_minus_smallest(r.get("calibration", {}).get("ece_by_seed", {}).values())


def _grows(r: dict) -> Verdict:
    section = r.get("calibration", {})
    per_seed = _per_seed(r)
    if not per_seed:
        return undecided(), "fewer than two widths measured"
    pairs = section.get("ece_by_seed", {})
    widths = {w for by_width in pairs.values() for w in by_width}
    small, large = min(widths, key=int), max(widths, key=int)
    by_width = {w: f"{s['dense']['ece']:.4f}" for w, s in section.get("by_width", {}).items()
                if "dense" in s}
    decision, evidence = seed_effect(
        per_seed, f"ECE(h={large}) − ECE(h={small}) averaged over {len(pairs)} pair(s)",
        float(section.get("min_effect", 0.005)))
    return decision, f"{evidence}; dense ECE by width {listing(by_width)}"


CLAIMS = (
    Claim("calibration_error_grows_with_width", "Guo et al. (2017): larger networks are worse "
          "calibrated (their expected calibration error grows with width).",
          "statistic: per seed, the test-set ECE (equal-width bins) of the widest minus the "
          f"narrowest model, mean over pairs; {CI} of its mean over seeds. Holds if the "
          "interval lies above 0 and the mean effect is at least `calibration.min_effect` "
          "(negligible if smaller), does not hold if below 0",
          _grows, _per_seed, "one seed's ECE of the widest minus the narrowest model, mean "
          "over pairs"),
)
