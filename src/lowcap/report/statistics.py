"""The statistics the claims check decides with: bootstrap intervals over seeds (or images,
or points), one-sided Wilcoxon signed-rank tests with Holm's correction, and the bootstrap
distribution of a minimum capacity.

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


def meets_rule(best: np.ndarray, min_f1: float, max_std: float) -> np.ndarray:
    """The min-capacity rule for best F1 [..., seeds]: above `min_f1` for every seed and seed
    std below `max_std`."""
    return np.all(best > min_f1, axis=-1) & (np.std(best, axis=-1) < max_std)


def min_capacity(best: np.ndarray, min_f1: float, max_std: float) -> np.ndarray:
    """Index of the first width meeting the rule (`meets_rule`), or len(widths) when none
    does, for best [..., widths, seeds]."""
    ok = meets_rule(best, min_f1, max_std)
    return np.where(ok.any(axis=-1), ok.argmax(axis=-1), best.shape[-2])


def min_capacity_samples(best: np.ndarray, widths: list[int], min_f1: float, max_std: float,
                         n: int = BOOTSTRAP, seed: int = SEED) -> np.ndarray:
    """The minimum capacity of `n` resamples of the seeds (with replacement, one resample of
    the seed set for every width), as widths (inf: no width meets the rule). `best` is
    [widths, seeds]."""
    seeds = best.shape[1]
    pick = np.random.default_rng(seed).integers(0, seeds, (n, seeds))
    index = min_capacity(best[:, pick].transpose(1, 0, 2), min_f1, max_std)  # [n]
    return np.append(np.asarray(widths, dtype=float), np.inf)[index]


def min_capacity_bootstrap(best: np.ndarray, widths: list[int], min_f1: float,
                           max_std: float) -> dict:
    """The minimum capacity's bootstrap distribution over seeds: P(min = h) for each width h
    (and 'none'), and its 95% percentile interval (None at an end where no width meets the
    rule). `best` is [widths, seeds]."""
    samples = min_capacity_samples(best, widths, min_f1, max_std)
    p = {str(h): float(np.mean(samples == h)) for h in widths}
    p["none"] = float(np.mean(np.isinf(samples)))
    low, high = (np.quantile(samples, q, method="inverted_cdf") for q in (0.025, 0.975))
    return {"p": {h: v for h, v in p.items() if v > 0},
            "ci": [None if np.isinf(b) else int(b) for b in (low, high)]}
