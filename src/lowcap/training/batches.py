"""The batch order of one epoch: a pure function of (order seed, epoch), shared by the cohort and
any reference training loop, so their trajectories can be compared exactly."""

from __future__ import annotations

import math

import numpy as np

# An update budget: the batch size whose one pass sets an epoch's updates ('own': the plan's
# own batch size; None: full batch, one update).
Budget = int | str | None


def updates_per_epoch(n: int, batch_size: int | None, budget: Budget = "own") -> int:
    """How many updates an epoch over `n` training images makes under `budget`."""
    per_pass = budget if budget != "own" else batch_size
    return 1 if per_pass is None else math.ceil(n / int(per_pass))


def epoch_order(n: int, order_seed: int, epoch: int, batch_size: int | None,
                budget: Budget = "own") -> list[np.ndarray]:
    """Positions 0..n-1 as the epoch's batches; `batch_size=None` is the full batch.

    Mini-batches are reshuffled every epoch; the last batch of a pass may be smaller. Under a
    `budget` (see `updates_per_epoch`) the epoch takes that many batches: the first ones of
    its permutation, continuing into further permutations of (seed, epoch, pass) where one
    pass is not enough; full batch repeats the whole set.
    """
    steps = updates_per_epoch(n, batch_size, budget)
    if batch_size is None:
        return [np.arange(n)] * steps
    batches: list[np.ndarray] = []
    rounds = 0
    while len(batches) < steps:
        key = [order_seed, epoch] if rounds == 0 else [order_seed, epoch, rounds]
        perm = np.random.default_rng(key).permutation(n)
        batches += [perm[i:i + batch_size] for i in range(0, n, batch_size)]
        rounds += 1
    return batches[:steps]
