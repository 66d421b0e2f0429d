"""Binary digit-pair tasks: a pair (a, b) and a seed give train / validation / test splits.

Label 1 is the second digit, 0 the first. Train and validation come from MNIST's 60k training
images of the pair (stratified split by the seed); test is MNIST's 10k test images of the pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.model_selection import train_test_split

from lowcap.errors import UserInputError

# Whose random draws make splits and initial weights: lowcap's, or exactly the paper's public
# code's (its NumPy streams, in its loop order).
Draws = Literal["lowcap", "paper_code"]
# The paper's five tasks, easiest to hardest.
PAPER_PAIRS: tuple[tuple[int, int], ...] = ((0, 1), (1, 7), (5, 6), (3, 8), (4, 9))


def check_pair(pair: tuple[int, int]) -> tuple[int, int]:
    """Return the pair if it names two distinct digits 0–9, else raise UserInputError."""
    a, b = pair
    for digit in (a, b):
        if not (isinstance(digit, int) and 0 <= digit <= 9):
            raise UserInputError(f"digit {digit!r} in pair {pair}: digits must be integers 0–9")
    if a == b:
        raise UserInputError(f"pair {pair}: the two digits must differ")
    return (a, b)


def pair_key(pair: tuple[int, int]) -> str:
    """The contract's string key of a pair, e.g. '4-9'."""
    return f"{pair[0]}-{pair[1]}"


@dataclass(frozen=True)
class TaskSplit:
    """Indices into MNIST (train indices for train/val, test indices for test) and 0/1 labels."""

    pair: tuple[int, int]
    seed: int
    train_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray
    train_y: np.ndarray
    val_y: np.ndarray
    test_y: np.ndarray


def make_split(
    train_labels: np.ndarray,
    test_labels: np.ndarray,
    pair: tuple[int, int],
    seed: int,
    balance: bool = False,
    val_fraction: float = 0.2,
    draws: Draws = "lowcap",
) -> TaskSplit:
    """Split the pair's training images 80/20 (stratified, by `seed`); optionally balance first.

    `balance=True` (the reference protocol) down-samples the larger digit to the smaller one's
    count, randomly by `seed`, before splitting. `draws="paper_code"` makes exactly the split of
    the paper's public code (its `split_by_labels`): a `default_rng(seed)` picks each digit's
    images (first digit first), permutes the pool, and scikit-learn splits the permuted pool
    with `random_state=seed`; lowcap's own draws keep MNIST's order instead of permuting.
    """
    a, b = check_pair(pair)
    pool = np.flatnonzero((train_labels == a) | (train_labels == b))
    rng = np.random.default_rng(seed)
    if balance:
        n = min(int((train_labels[pool] == a).sum()), int((train_labels[pool] == b).sum()))
        chosen = [rng.choice(pool[train_labels[pool] == d], n, replace=False) for d in (a, b)]
        pool = np.concatenate(chosen) if draws == "paper_code" else np.sort(np.concatenate(chosen))
    if draws == "paper_code":
        pool = pool[rng.permutation(len(pool))]
    labels = (train_labels[pool] == b).astype(np.float32)
    train_idx, val_idx, train_y, val_y = train_test_split(
        pool, labels, test_size=val_fraction, stratify=labels, random_state=seed
    )
    test_idx = np.flatnonzero((test_labels == a) | (test_labels == b))
    test_y = (test_labels[test_idx] == b).astype(np.float32)
    return TaskSplit((a, b), seed, train_idx, val_idx, test_idx, train_y, val_y, test_y)
