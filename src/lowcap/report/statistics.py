"""The statistics the claims check decides with: bootstrap intervals over seeds (or images,
or points), one-sided Wilcoxon signed-rank tests with Holm's correction.

Every verdict is one of three: 'holds' when the interval (or corrected test) supports the
claim, 'does not hold' when it supports the opposite, and 'inconclusive' otherwise. All
resampling is seeded, so a report rebuilt from the same store says the same thing.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import wilcoxon

HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
BOOTSTRAP = 4000  # resamples: the 2.5% / 97.5% percentiles are stable to ~0.5% of the spread
SEED = 20250722  # the bootstrap's own stream (the paper's arXiv date)
ALPHA = 0.05


def bootstrap_mean_ci(values: np.ndarray, n: int = BOOTSTRAP, seed: int = SEED
                      ) -> tuple[float, float]:
    """95% percentile interval of the mean of `values` [k, ...] over k resampled with
    replacement along the first axis (the mean is taken over every other axis too). NaN
    values are left out; (nan, nan) with no finite value."""
    values = np.asarray(values, dtype=float)
    values = values.reshape(len(values), -1)
    keep = np.isfinite(values).all(axis=1)
    values = values[keep]
    if len(values) == 0:
        return float("nan"), float("nan")
    pick = np.random.default_rng(seed).integers(0, len(values), (n, len(values)))
    means = values[pick].mean(axis=(1, 2))
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def above(ci: tuple[float, float], threshold: float) -> str:
    """'holds' if the interval lies above `threshold`, 'does not hold' if below, else
    'inconclusive' (also for a NaN interval)."""
    lo, hi = ci
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return INCONCLUSIVE
    if lo > threshold:
        return HOLDS
    if hi < threshold:
        return FAILS
    return INCONCLUSIVE


def below(ci: tuple[float, float], threshold: float) -> str:
    """'holds' if the interval lies below `threshold`, 'does not hold' if above."""
    lo, hi = ci
    return above((-hi, -lo), -threshold)


def inside(ci: tuple[float, float], low: float, high: float) -> str:
    """'holds' if the interval lies within [low, high], 'does not hold' if it misses it
    entirely, else 'inconclusive'."""
    lo, hi = ci
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return INCONCLUSIVE
    if low <= lo and hi <= high:
        return HOLDS
    if hi < low or lo > high:
        return FAILS
    return INCONCLUSIVE


def all_of(verdicts: list[str]) -> str:
    """A claim made of parts: holds if every part holds, fails if any part fails."""
    if not verdicts:
        return INCONCLUSIVE
    if FAILS in verdicts:
        return FAILS
    return HOLDS if all(v == HOLDS for v in verdicts) else INCONCLUSIVE


def ci_text(ci: tuple[float, float], fmt: str = "+.3f") -> str:
    """'[lo, hi]' in the given format."""
    return f"[{ci[0]:{fmt}}, {ci[1]:{fmt}}]"


def holm(p_values: list[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (same order as given)."""
    order = np.argsort(p_values)
    adjusted = np.empty(len(p_values))
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return [float(p) for p in adjusted]


def signed_rank_p(values: np.ndarray, alternative: str) -> float:
    """One-sided Wilcoxon signed-rank p-value that `values` are centred above 0
    (`alternative='greater'`) or below it ('less'); zeros are dropped (Wilcoxon's own
    treatment); 1.0 when fewer than 6 non-zero values remain (too few to ever reach 5%)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values != 0)]
    if len(values) < 6:
        return 1.0
    return float(wilcoxon(values, alternative=alternative).pvalue)
