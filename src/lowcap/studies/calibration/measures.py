"""Calibration of a binary classifier's probabilities: expected calibration error over
equal-width and equal-mass bins, the Brier score, and the reliability diagram's bins."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Reliability:
    """Per bin: how many predictions fell in it, their mean predicted probability of the
    positive class, and how often the label was positive."""

    count: np.ndarray
    confidence: np.ndarray
    frequency: np.ndarray

    def error(self) -> float:
        """Σ_b (n_b / N) · |frequency_b − confidence_b| over the bins that hold predictions."""
        held = self.count > 0
        weights = self.count[held] / self.count.sum()
        return float(np.sum(weights * np.abs(self.frequency[held] - self.confidence[held])))


def _binned(p: np.ndarray, y: np.ndarray, index: np.ndarray, slots: int) -> Reliability:
    count = np.bincount(index, minlength=slots).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(index, weights=p, minlength=slots) / count
        frequency = np.bincount(index, weights=y, minlength=slots) / count
    return Reliability(count, confidence, frequency)


def equal_width(p: np.ndarray, y: np.ndarray, bins: int) -> Reliability:
    """`bins` bins [k/bins, (k+1)/bins) of [0, 1], and one more slot for p = 1 exactly (as
    torchmetrics' binary calibration error bins them)."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    index = np.searchsorted(np.linspace(0.0, 1.0, bins + 1), p, side="right") - 1
    return _binned(p, y, np.clip(index, 0, bins), bins + 1)


def equal_mass(p: np.ndarray, y: np.ndarray, bins: int) -> Reliability:
    """`bins` bins of (nearly) equally many predictions each, in order of p (ties kept in
    input order): the adaptive binning of Nguyen & O'Connor 2015 and Nixon et al. 2019."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    index = np.empty(len(p), dtype=np.int64)
    for b, members in enumerate(np.array_split(order, bins)):
        index[members] = b
    return _binned(p, y, index, bins)


def brier(p: np.ndarray, y: np.ndarray) -> float:
    """Mean squared difference between the probability of the positive class and the label."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.mean((p - y) ** 2))
