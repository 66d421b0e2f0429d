"""The minimum capacity and its bootstrap distribution over seeds."""

from __future__ import annotations

import numpy as np

from lowcap.report.statistics import BOOTSTRAP, SEED


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
