"""How a measurement changes over every width (or any swept factor), not only between its two
ends: per-seed rank correlation, the best width with its interval, and a shape label decided
by stated statistics.

A curve such as test F1 under noise by width can peak in the middle; a claim that compares
the widest with the smallest model cannot see that. `factor_trend` reads the whole curve,
seed by seed, and names its shape. Four shapes are tested, each by a permutation test that
shuffles the levels within every seed (no level effect: any order is as likely), PERMUTATIONS
times, with Holm's correction over the four:

- **increasing** / **decreasing**: the mean over seeds of each seed's Spearman correlation
  with the level is larger (smaller) than under shuffling;
- **peaked at h** / **dipped at h**: h is the inner level with the best (worst) mean, and
  min(mean(h) − mean(first), mean(h) − mean(last)) is larger than under shuffling, where the
  shuffled curves pick their own best inner level (so choosing h after seeing the data is
  paid for);

a shape is named when its adjusted p-value is below 0.05 and its effect (last − first, or the
smaller of the two contrasts) is at least `min_effect` in size (the smallest adjusted p-value
wins). Otherwise **flat** when the 95% seed-bootstrap interval of the mean curve's range lies
below `min_effect` (whatever moves, moves too little to matter), else **unclear**; also
unclear with fewer than 3 levels or 2 seeds. The intervals shown (best level, contrasts, rank
correlation) are seeded bootstraps over seeds; every random draw is seeded, so a report rebuilt
from the same store names the same shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from lowcap.report.statistics import (
    ALPHA,
    BOOTSTRAP,
    SEED,
    bootstrap_mean_ci,
    centred_ranks,
    holm,
    rank_correlation,
)

MIN_LEVELS, MIN_SEEDS = 3, 2
MIN_EFFECT_F1 = 0.01  # the practical threshold where a study sets none: one F1 point
PERMUTATIONS = 2000  # the smallest p-value is 1/2001; Holm's ×4 keeps it far below 0.05
SHAPES = ("increasing", "decreasing", "peaked", "dipped")


@dataclass(frozen=True)
class Trend:
    """A measurement's shape over the levels of a factor (e.g. widths), over seeds."""

    shape: str                               # 'peaked at 2', 'increasing', 'flat', …
    levels: list[float]                      # the factor's levels, ascending
    mean: list[float]                        # mean over seeds per level
    seeds: int                               # seeds with a value at every level
    rank_correlation: float                  # mean per-seed Spearman ρ with the level
    rank_correlation_ci: tuple[float, float]
    best: float                              # level of the mean curve's largest value
    best_range: tuple[float, float]          # 2.5% / 97.5% of the best level over resamples
    best_minus_first_ci: tuple[float, float]
    best_minus_last_ci: tuple[float, float]
    range_ci: tuple[float, float]            # mean curve's largest minus smallest value
    p_values: dict[str, float]               # Holm-adjusted, per shape in SHAPES
    min_effect: float
    reason: str                              # the rule that named the shape, in words

    def as_dict(self) -> dict:
        """The trend as summary.json holds it."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def factor_trend(by_level: dict, min_effect: float) -> Trend:
    """The shape of `by_level` {level: {seed: value}} (levels and seeds as strings or numbers)
    over the seeds present at every level with a finite value; see the module's rules."""
    levels = sorted(by_level, key=float)
    seeds = sorted(set.intersection(*(set(by_level[h]) for h in levels)) if levels else set(),
                   key=str)
    values = np.array([[by_level[h][s] for h in levels] for s in seeds], dtype=float)
    values = values[np.isfinite(values).all(axis=1)] if len(seeds) else values.reshape(0, 0)
    x = [float(h) for h in levels]
    if len(levels) < MIN_LEVELS or len(values) < MIN_SEEDS:
        nan2 = (float("nan"), float("nan"))
        mean = values.mean(axis=0).tolist() if len(values) else [float("nan")] * len(levels)
        return Trend("unclear", x, mean, len(values), float("nan"), nan2, float("nan"), nan2,
                     nan2, nan2, nan2, {}, min_effect,
                     f"{len(levels)} levels and {len(values)} complete seeds (the shape needs "
                     f"{MIN_LEVELS} and {MIN_SEEDS})")
    return _shape(x, values, min_effect)


def _rank_correlations(x: list[float], values: np.ndarray) -> np.ndarray:
    """[..., seeds]: each seed's Spearman correlation of `values` [..., seeds, levels] with
    the levels `x` (ties averaged; 0 for a constant curve)."""
    return rank_correlation(centred_ranks(values), centred_ranks(np.asarray(x)), constant=0.0)


def _statistics(x: list[float], values: np.ndarray) -> np.ndarray:
    """[..., 4]: mean rank correlation, its negative, the peak and the dip statistic of
    `values` [..., seeds, levels]."""
    mean_rho = _rank_correlations(x, values).mean(axis=-1)
    curve = values.mean(axis=-2)
    inner = curve[..., 1:-1]
    first, last = curve[..., :1], curve[..., -1:]
    peak = np.minimum(inner - first, inner - last).max(axis=-1)
    dip = np.minimum(first - inner, last - inner).max(axis=-1)
    return np.stack([mean_rho, -mean_rho, peak, dip], axis=-1)


def _p_values(x: list[float], values: np.ndarray) -> np.ndarray:
    """Holm-adjusted permutation p-values of increasing, decreasing, peaked, dipped."""
    observed = _statistics(x, values)
    rng = np.random.default_rng(SEED)
    order = np.argsort(rng.random((PERMUTATIONS, *values.shape)), axis=-1)
    shuffled = np.take_along_axis(np.broadcast_to(values, order.shape), order, axis=-1)
    null = _statistics(x, shuffled)
    raw = ((null >= observed - 1e-12).sum(axis=0) + 1) / (PERMUTATIONS + 1)
    return np.array(holm(raw.tolist()))


def _shape(x: list[float], values: np.ndarray, min_effect: float) -> Trend:
    mean = values.mean(axis=0)
    first, last = 0, len(x) - 1
    best = 1 + int(np.argmax(mean[1:-1]))  # the inner level a peak would sit at
    worst = 1 + int(np.argmin(mean[1:-1]))
    top = int(np.argmax(mean))
    rho = _rank_correlations(x, values)
    rho_ci = bootstrap_mean_ci(rho)
    pick = np.random.default_rng(SEED).integers(0, len(values), (BOOTSTRAP, len(values)))
    curves = values[pick].mean(axis=1)  # [resamples, levels]
    best_levels = np.asarray(x)[curves.argmax(axis=1)]
    best_range = (float(np.percentile(best_levels, 2.5)), float(np.percentile(best_levels, 97.5)))
    range_ci = _percentiles(curves.max(axis=1) - curves.min(axis=1))
    p = _p_values(x, values)
    ends = float(mean[last] - mean[first])
    effects = [ends, -ends, min(mean[best] - mean[first], mean[best] - mean[last]),
               min(mean[first] - mean[worst], mean[last] - mean[worst])]
    names = ["increasing", "decreasing", f"peaked at {x[best]:g}", f"dipped at {x[worst]:g}"]
    trend = dict(levels=x, mean=mean.tolist(), seeds=len(values),
                 rank_correlation=float(rho.mean()), rank_correlation_ci=rho_ci, best=x[top],
                 best_range=best_range,
                 best_minus_first_ci=_percentiles(curves[:, top] - curves[:, first]),
                 best_minus_last_ci=_percentiles(curves[:, top] - curves[:, last]),
                 range_ci=range_ci, p_values=dict(zip(SHAPES, p.tolist(), strict=True)),
                 min_effect=min_effect)
    named = [i for i in np.argsort(p, kind="stable") if p[i] < ALPHA and effects[i] >= min_effect]
    if named:
        i = named[0]
        return Trend(names[i], **trend, reason=(
            f"permutation test over the levels within seeds, Holm-adjusted p = {p[i]:.3g} "
            f"< {ALPHA}; effect {effects[i]:+.3g} ≥ {min_effect:g}"))
    if range_ci[1] < min_effect:
        return Trend("flat", **trend, reason=(
            f"the mean curve's range {_text(range_ci)} lies below the practical threshold "
            f"{min_effect:g}"))
    return Trend("unclear", **trend, reason=(
        f"no shape is supported (smallest adjusted p = {p.min():.3g}) and the range "
        f"{_text(range_ci)} reaches the practical threshold {min_effect:g}"))


def _percentiles(samples: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(samples, 2.5)), float(np.percentile(samples, 97.5))


def _text(ci: tuple[float, float]) -> str:
    return f"[{ci[0]:+.3g}, {ci[1]:+.3g}]"
