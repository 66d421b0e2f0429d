"""The double-descent claims: under label noise, test error peaks near the interpolation
threshold (parameters ≈ n) and falls again; without noise it does not (Nakkiran et al. 2019)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from lowcap.report.claims import CI, Claim, SeedValues, Verdict, seed_effect
from lowcap.report.statistics import undecided
from lowcap.studies.double_descent.report import pair_cells

# Widths whose parameters / n lie in [1/WINDOW, WINDOW] are "near the threshold".
WINDOW = 3.0


def bumps(by_width: dict, n: int) -> dict[str, float]:
    """Per seed, how far test error near the threshold rises above both sides: the mean test
    error of the widths with parameters / n in [1/WINDOW, WINDOW], minus the larger of the
    mean below that window and the mean beyond it (means, not extremes: on noise alone the
    difference is not biased upwards), for n training samples; nothing unless the widths
    (`by_width`: width → {parameters, test_error_by_seed}) reach all three ranges."""
    widths = sorted(by_width, key=int)
    ratio = {w: by_width[w]["parameters"] / n for w in widths}
    ranges = ([w for w in widths if ratio[w] < 1 / WINDOW],
              [w for w in widths if 1 / WINDOW <= ratio[w] <= WINDOW],
              [w for w in widths if ratio[w] > WINDOW])
    if not all(ranges):
        return {}
    out = {}
    for seed in by_width[widths[-1]]["test_error_by_seed"]:
        error = {w: by_width[w]["test_error_by_seed"].get(seed) for w in widths}
        below, near, beyond = (np.mean([np.nan if error[w] is None else error[w]
                                        for w in part]) for part in ranges)
        bump = near - max(below, beyond)
        if np.isfinite(bump):
            out[seed] = float(bump)
    return out


def _per_seed(r: dict, noisy: bool) -> SeedValues:
    """Per seed: the threshold's test error above both sides (`bumps`), mean over pairs and
    training sizes (and datasets), at the largest label noise (`noisy`) or at none."""
    cells = r.get("double_descent", {}).get("cells", {})
    per_seed: dict[str, list[float]] = defaultdict(list)
    for _, by_noise in pair_cells(cells):
        levels = sorted(by_noise, key=float)
        level = levels[-1] if noisy else "0"
        if level not in by_noise or (noisy and float(level) == 0):
            continue
        for n, by_width in by_noise[level].items():
            measured = {w: e for w, e in by_width.items() if e.get("parameters")}
            for seed, value in bumps(measured, int(n)).items():
                per_seed[seed].append(value)
    return {seed: float(np.mean(v)) for seed, v in sorted(per_seed.items(),
                                                          key=lambda kv: int(kv[0]))}


def _verdict(r: dict, noisy: bool) -> Verdict:
    per_seed = _per_seed(r, noisy)
    which = "the largest label noise" if noisy else "no label noise"
    if not per_seed:
        return undecided(), (f"no widths below, near and beyond parameters ≈ n measured at "
                             f"{which}")
    return seed_effect(per_seed, f"at {which}, mean test error near parameters ≈ n minus the "
                       "higher of the means below and beyond",
                       float(r["double_descent"].get("min_effect", 0.02)))


RULE = ("statistic: per seed, the mean test error of the widths with parameters / n in "
        f"[1/{WINDOW:g}, {WINDOW:g}] minus the larger of the mean test error below that "
        "window and the mean beyond it, mean over datasets, pairs and training sizes; "
        f"{CI} of its mean over seeds. Holds if the interval lies above 0 and the mean "
        "effect is at least `double_descent.min_effect` (negligible if smaller), does not "
        "hold if below 0")

CLAIMS = (
    Claim("test_error_peaks_near_interpolation_under_label_noise", "Nakkiran et al. (2019): "
          "under label noise, test error peaks where the parameters reach about the number "
          "of training samples, and falls again as the width grows.", RULE,
          lambda r: _verdict(r, True), lambda r: _per_seed(r, True),
          "one seed's mean test error near parameters ≈ n above both sides, at the largest "
          "label noise"),
    Claim("test_error_peaks_near_interpolation_without_label_noise", "Nakkiran et al. "
          "(2019): without label noise the peak is absent or small (expected: does not "
          "hold, or negligible).", RULE,
          lambda r: _verdict(r, False), lambda r: _per_seed(r, False),
          "one seed's mean test error near parameters ≈ n above both sides, without label "
          "noise"),
)
