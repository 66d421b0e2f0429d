"""The split a model plan trains and evaluates on."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sklearn.model_selection import train_test_split

from lowcap.data.datasets import Dataset
from lowcap.data.mnist import MNIST
from lowcap.data.tasks import TaskSplit, make_split
from lowcap.errors import UserInputError
from lowcap.run.plan import ModelPlan


def plan_split(data: Dataset | MNIST, plan: ModelPlan) -> TaskSplit:
    """The split a plan trains and evaluates on (`train_size`: a stratified draw of that many
    training images; random labels: training labels shuffled; `label_noise`: a fraction of
    them flipped; validation and test are whole and keep the truth). UserInputError when
    `val_fraction` or `train_size` leaves a part of the split without two images of each
    class."""
    try:
        split = make_split(data.train_labels, data.test_labels, plan.pair, plan.seed,
                           balance=plan.hp.balance, val_fraction=plan.hp.val_fraction,
                           draws=plan.hp.draws)
        if plan.hp.train_size is not None and plan.hp.train_size < len(split.train_idx):
            train_idx, _, train_y, _ = train_test_split(
                split.train_idx, split.train_y, train_size=plan.hp.train_size,
                stratify=split.train_y, random_state=plan.seed)
            split = replace(split, train_idx=train_idx, train_y=train_y)
    except ValueError as exc:  # scikit-learn: a part too small for a stratified split
        raise UserInputError(
            f"val_fraction {plan.hp.val_fraction:g}, train_size {plan.hp.train_size}: pair "
            f"{plan.pair_key} of {plan.hp.dataset} (seed {plan.seed}) cannot be split so that "
            f"training and validation each hold images of both classes ({exc}); choose a "
            "val_fraction nearer 0.2 or a larger train_size") from exc
    for part, labels in (("training", split.train_y), ("validation", split.val_y)):
        if min(int((labels == 0).sum()), int((labels == 1).sum())) < 1:
            raise UserInputError(
                f"val_fraction {plan.hp.val_fraction:g}, train_size {plan.hp.train_size}: the "
                f"{part} part of pair {plan.pair_key} of {plan.hp.dataset} (seed {plan.seed}) "
                "holds images of one class only; choose a val_fraction nearer 0.2 or a larger "
                "train_size")
    if plan.hp.labels == "random":
        rng = np.random.default_rng([plan.seed, 1])
        split = replace(split, train_y=rng.permutation(split.train_y))
    if plan.hp.label_noise:
        split = replace(split, train_y=flip_labels(split.train_y, plan.hp.label_noise,
                                                   plan.seed))
    return split


def flip_labels(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Binary labels with round(fraction · n) of them flipped, which ones drawn from `seed`
    (the label noise of model-wise double descent, Nakkiran et al. 2019)."""
    flipped = labels.copy()
    chosen = np.random.default_rng([seed, 2]).permutation(len(labels))[
        :round(fraction * len(labels))]
    flipped[chosen] = 1 - flipped[chosen]
    return flipped
