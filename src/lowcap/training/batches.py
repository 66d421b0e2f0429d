"""The batch order of one epoch: a pure function of (order seed, epoch), shared by the cohort and
any reference training loop, so their trajectories can be compared exactly."""

from __future__ import annotations

import numpy as np


def epoch_order(n: int, order_seed: int, epoch: int, batch_size: int | None) -> list[np.ndarray]:
    """Positions 0..n-1 split into the epoch's batches; `batch_size=None` is one full batch.

    Mini-batches are reshuffled every epoch; the last batch may be smaller.
    """
    if batch_size is None:
        return [np.arange(n)]
    perm = np.random.default_rng([order_seed, epoch]).permutation(n)
    return [perm[i:i + batch_size] for i in range(0, n, batch_size)]
