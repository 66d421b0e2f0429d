"""Is a training set linearly separable? An exact LP answer (HiGHS), fast on MNIST pairs.

The LP maximises the margin t of y_i (w·x_i + b) ≥ t over |w_j| ≤ 1; the set is strictly
separable iff t* > 0. On ~10,000 images the full LP takes HiGHS tens of seconds, so it is solved
on a working subset that grows by the points the current solution misclassifies (cutting
planes): a subset with t* = 0 proves the whole set inseparable, and a solution that classifies
every point correctly proves it separable. Logistic regression's weights are tried first:
where they already separate the set, no LP is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

START = 200  # points in the first working subset (plus the ones a first guess gets wrong)
GROW = 500  # most violated points added per round
TOLERANCE = 1e-9  # a margin at or below this is no margin


@dataclass(frozen=True)
class Separability:
    """The answer, the largest margin of the last LP (on the working subset; None when a first
    guess already separated the set), and how many points and LP rounds it took."""

    separable: bool
    margin: float | None
    points: int
    rounds: int


def _max_margin(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, float]:
    """max t s.t. y_i (w·x_i + b) ≥ t, |w_j| ≤ 1, t ≤ 1: (t*, w, b)."""
    n, d = x.shape
    a = sp.hstack([-sp.diags(y) @ sp.csr_matrix(x), sp.csr_matrix(-y[:, None]),
                   sp.csr_matrix(np.ones((n, 1)))]).tocsr()
    cost = np.zeros(d + 2)
    cost[-1] = -1.0
    bounds = [(-1.0, 1.0)] * d + [(None, None), (None, 1.0)]
    result = linprog(cost, A_ub=a, b_ub=np.zeros(n), bounds=bounds, method="highs-ipm")
    if result.status != 0:
        raise RuntimeError(f"the separability LP failed: {result.message}")
    return -float(result.fun), result.x[:d], float(result.x[d])


def linearly_separable(x: np.ndarray, y: np.ndarray, guess: tuple[np.ndarray, float] | None = None,
                       seed: int = 0) -> Separability:
    """Whether the points x [n, d] with labels y ∈ {0, 1} are strictly linearly separable;
    `guess` (w [d], b), e.g. a logistic regression's, is tried first."""
    x = np.asarray(x, dtype=np.float64)
    signs = np.where(np.asarray(y) > 0.5, 1.0, -1.0)
    if guess is not None:
        margins = signs * (x @ np.asarray(guess[0], dtype=np.float64).ravel() + guess[1])
        if np.all(margins > TOLERANCE):
            return Separability(True, None, 0, 0)
        wrong = np.flatnonzero(margins <= TOLERANCE)
    else:
        wrong = np.array([], dtype=np.int64)
    x = x[:, x.std(0) > 0]  # constant pixels add nothing but LP columns
    rng = np.random.default_rng(seed)
    start = rng.choice(len(x), min(START, len(x)), replace=False)
    subset = np.union1d(start, wrong[:GROW])
    rounds = 0
    while True:
        rounds += 1
        margin, w, b = _max_margin(x[subset], signs[subset])
        if margin <= TOLERANCE:
            return Separability(False, margin, len(subset), rounds)
        margins = signs * (x @ w + b)
        violated = np.flatnonzero(margins <= TOLERANCE)
        if len(violated) == 0:
            return Separability(True, margin, len(subset), rounds)
        worst = violated[np.argsort(margins[violated])[:GROW]]
        subset = np.union1d(subset, worst)
