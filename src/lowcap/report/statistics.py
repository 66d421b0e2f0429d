"""The statistics the claims check decides with: bootstrap intervals over seeds (or images,
or points), one-sided Wilcoxon signed-rank tests with Holm's correction.

Every verdict is one of three: 'holds' when the interval (or corrected test) supports the
claim, 'does not hold' when it supports the opposite, and 'inconclusive' otherwise. All
resampling is seeded, so a report rebuilt from the same store says the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import rankdata, wilcoxon

HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
# Supported by the statistic, but the effect is smaller than the practical threshold.
NEGLIGIBLE = "negligible"
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


def bootstrap_two_way_ci(values: np.ndarray, n: int = BOOTSTRAP, seed: int = SEED
                         ) -> tuple[float, float]:
    """95% percentile interval of the mean of `values` [runs, points] when the runs (e.g.
    embeddings with different seeds) and the points are resampled together, each with
    replacement: the interval carries both sources of randomness. Points with a NaN in some
    run are left out; (nan, nan) with none left."""
    values = np.asarray(values, dtype=float)
    values = values[:, np.isfinite(values).all(axis=0)]
    runs, points = values.shape
    if runs == 0 or points == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    pick_points = rng.integers(0, points, (n, points))
    pick_runs = rng.integers(0, runs, (n, runs))
    offsets = (np.arange(n)[:, None] * points + pick_points).ravel()
    counts = np.bincount(offsets, minlength=n * points).reshape(n, points)
    per_run = counts @ values.T  # [n, runs]: each run's sum over the resampled points
    means = np.take_along_axis(per_run, pick_runs, axis=1).sum(axis=1) / (runs * points)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


@dataclass(frozen=True)
class Decision:
    """A verdict with what decided it: the deciding interval (or value) and threshold(s), and
    the *margin*, the distance in the statistic's own unit by which the deciding end would
    have to move to change the verdict. `spread` is the statistic's numerical spread in that
    unit (how far it moves between CPUs, instruction sets and thread counts, see
    `interval_spread`); a margin within it is *near threshold*: a verdict another machine may
    not share. NaN margin: a verdict made without numbers (missing data). `effect` is the
    size of what the claim is about in the user's unit (e.g. F1 points) and `min_effect` the
    practical threshold it was held to (`practical`); NaN where the claim states none."""

    verdict: str
    margin: float = float("nan")
    spread: float = float("nan")
    interval: tuple[float, float] | None = None
    threshold: tuple[float, ...] = ()
    effect: float = float("nan")
    min_effect: float = float("nan")

    @property
    def near_threshold(self) -> bool:
        return bool(self.margin <= self.spread)  # False for NaN


def undecided(verdict: str = INCONCLUSIVE) -> Decision:
    """A verdict reached without a statistic (no data, or a rule of exact counts)."""
    return Decision(verdict)


def practical(decision: Decision, effect: float, min_effect: float) -> Decision:
    """`decision` with its effect in the user's unit and the practical threshold: a verdict
    the statistic supports ('holds') whose mean effect is smaller than `min_effect` in size
    becomes 'negligible' (supported, too small to matter); other verdicts keep theirs."""
    verdict = decision.verdict
    if verdict == HOLDS and np.isfinite(effect) and abs(effect) < min_effect:
        verdict = NEGLIGIBLE
    return replace(decision, verdict=verdict, effect=float(effect), min_effect=float(min_effect))


# z(0.975) + z(0.8): an effect of this many standard errors is found 80% of the time at 5%.
DETECTABLE_Z = 2.8


def seeds_needed(per_seed: np.ndarray, effect: float) -> tuple[float, int | None]:
    """What a comparison over seeds can resolve: the smallest effect its seeds find 80% of
    the time at the 5% level (DETECTABLE_Z standard errors of the per-seed values' mean), and
    how many seeds the observed `effect` would need for that (None where it cannot be said:
    fewer than 2 seeds, no spread, or no effect)."""
    values = np.asarray(per_seed, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan"), None
    sd = float(np.std(values, ddof=1))
    resolvable = DETECTABLE_Z * sd / np.sqrt(len(values))
    if sd == 0 or not np.isfinite(effect) or effect == 0:
        return resolvable, None
    return resolvable, int(np.ceil((DETECTABLE_Z * sd / abs(effect)) ** 2))


# A bootstrap interval's ends move between machines (other instruction sets, thread counts,
# kernels) by a fraction of its width: what is resampled (seeds, points, t-SNE runs) is each
# perturbed by rounding that training and t-SNE amplify, much as another draw would be, so
# the move scales with the interval. `benchmarks/spread.py` measures it (benchmarks/README.md,
# "Same numbers on every machine"); NUMERICAL_SPREAD is about 1.5 times the largest fraction
# measured there.
NUMERICAL_SPREAD = 0.25


def rounding_floor(ci: tuple[float, float]) -> float:
    """float32 rounding of an interval's ends: the least any number of it moves."""
    return 1e-6 * max(abs(ci[0]), abs(ci[1]), 1.0)


def interval_spread(ci: tuple[float, float]) -> float:
    """The numerical spread of an interval's ends: NUMERICAL_SPREAD of its width, and at
    least float32 rounding of its ends (an interval of one value has width 0)."""
    return max(NUMERICAL_SPREAD * abs(ci[1] - ci[0]), rounding_floor(ci))


def _finite(ci: tuple[float, float]) -> bool:
    return bool(np.isfinite(ci[0]) and np.isfinite(ci[1]))


def above(ci: tuple[float, float], threshold: float) -> Decision:
    """'holds' if the interval lies above `threshold`, 'does not hold' if below, else
    'inconclusive' (also for a NaN interval)."""
    lo, hi = ci
    if not _finite(ci):
        return undecided()
    if lo > threshold:
        verdict, margin = HOLDS, lo - threshold
    elif hi < threshold:
        verdict, margin = FAILS, threshold - hi
    else:
        verdict, margin = INCONCLUSIVE, min(threshold - lo, hi - threshold)
    return Decision(verdict, float(margin), interval_spread(ci), (float(lo), float(hi)),
                    (float(threshold),))


def below(ci: tuple[float, float], threshold: float) -> Decision:
    """'holds' if the interval lies below `threshold`, 'does not hold' if above."""
    lo, hi = ci
    mirrored = above((-hi, -lo), -threshold)
    return replace(mirrored, interval=None if mirrored.interval is None else (lo, hi),
                   threshold=(float(threshold),) if mirrored.threshold else ())


def inside(ci: tuple[float, float], low: float, high: float) -> Decision:
    """'holds' if the interval lies within [low, high], 'does not hold' if it misses it
    entirely, else 'inconclusive'."""
    lo, hi = ci
    if not _finite(ci):
        return undecided()
    if low <= lo and hi <= high:
        verdict, margin = HOLDS, min(lo - low, high - hi)
    elif hi < low or lo > high:
        verdict, margin = FAILS, max(low - hi, lo - high)
    else:  # the nearest end that, moved, would decide it either way
        verdict = INCONCLUSIVE
        margin = min(abs(end - bound) for end in (lo, hi) for bound in (low, high))
    return Decision(verdict, float(margin), interval_spread(ci), (float(lo), float(hi)),
                    (float(low), float(high)))


def all_of(parts: list[Decision]) -> Decision:
    """A claim made of parts: holds if every part holds, fails if any part fails. Its
    margin is that of the part that decides it: the most robust failing part (every one
    must flip), the weakest part of a claim that holds, the nearest undecided part."""
    if not parts:
        return undecided()
    verdicts = [p.verdict for p in parts]
    if FAILS in verdicts:
        verdict = FAILS
        deciding = max((p for p in parts if p.verdict == FAILS), key=_margin_or_inf)
    else:
        verdict = HOLDS if all(v == HOLDS for v in verdicts) else INCONCLUSIVE
        candidates = parts if verdict == HOLDS else [p for p in parts if p.verdict != HOLDS]
        deciding = min(candidates, key=_margin_or_inf)
    return replace(deciding, verdict=verdict)


def _margin_or_inf(decision: Decision) -> float:
    """A part decided without numbers (NaN margin) counts as infinitely far from flipping."""
    return decision.margin if np.isfinite(decision.margin) else float("inf")


# The probability rules (P ≥ 0.95 over bootstrap resamples): the estimate's Monte-Carlo error
# with BOOTSTRAP resamples is at most 0.0035 at 0.95; three times it, rounded up.
PROBABILITY_SPREAD = 0.015


def probability_at_least(p_holds: float, p_fails: float, level: float = 0.95) -> Decision:
    """'holds' if P(claim) ≥ `level`, 'does not hold' if P(opposite) ≥ `level`, else
    'inconclusive'; the margin is the deciding probability's distance from `level`."""
    if not (np.isfinite(p_holds) and np.isfinite(p_fails)):
        return undecided()
    if p_holds >= level:
        verdict, deciding = HOLDS, p_holds
    elif p_fails >= level:
        verdict, deciding = FAILS, p_fails
    else:
        verdict, deciding = INCONCLUSIVE, max(p_holds, p_fails)
    return Decision(verdict, float(abs(deciding - level)), PROBABILITY_SPREAD,
                    (float(deciding), float(deciding)), (float(level),))


# The tests' rules (p < ALPHA): a factor of two in p, in log10 units.
P_VALUE_SPREAD = float(np.log10(2.0))


def p_value_below(p: float, verdict: str) -> Decision:
    """A verdict decided by a p-value against ALPHA; the margin is |log10(p / ALPHA)|."""
    if not np.isfinite(p) or p <= 0:
        return undecided(verdict)
    margin = abs(float(np.log10(p / ALPHA)))
    return Decision(verdict, margin, P_VALUE_SPREAD, (float(p), float(p)), (ALPHA,))


def centred_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks along the last axis (ties averaged) minus their mean: Spearman's input."""
    ranks = rankdata(values, axis=-1)
    return ranks - ranks.mean(axis=-1, keepdims=True)


def rank_correlation(ranks_a: np.ndarray, ranks_b: np.ndarray,
                     constant: float = float("nan")) -> np.ndarray:
    """Spearman's ρ along the last axis from two `centred_ranks` (broadcast against each
    other); `constant` where either side is constant (ρ undefined)."""
    denom = np.sqrt((ranks_a**2).sum(-1) * (ranks_b**2).sum(-1))
    return np.where(denom > 0, (ranks_a * ranks_b).sum(-1) / np.where(denom > 0, denom, 1),
                    constant)


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
