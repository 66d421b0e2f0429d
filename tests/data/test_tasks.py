import math

import numpy as np
import pytest

from lowcap.data import check_pair, make_split
from lowcap.errors import UserInputError


@pytest.mark.parametrize("seed", [0, 1])
def test_corrected_split_is_stratified_and_disjoint(mnist, seed):
    split = make_split(mnist.train_labels, mnist.test_labels, (4, 9), seed)
    n4, n9 = 5842, 5949
    assert len(split.train_idx) + len(split.val_idx) == n4 + n9
    assert len(split.val_idx) == math.ceil(0.2 * (n4 + n9))  # sklearn rounds up
    assert not set(split.train_idx) & set(split.val_idx)
    assert abs(split.val_y.mean() - n9 / (n4 + n9)) < 1e-3
    np.testing.assert_array_equal(split.train_y, mnist.train_labels[split.train_idx] == 9)
    assert len(split.test_idx) == 982 + 1009
    np.testing.assert_array_equal(split.test_y, mnist.test_labels[split.test_idx] == 9)


def test_split_depends_on_seed_only(mnist):
    a = make_split(mnist.train_labels, mnist.test_labels, (3, 8), 0)
    b = make_split(mnist.train_labels, mnist.test_labels, (3, 8), 0)
    c = make_split(mnist.train_labels, mnist.test_labels, (3, 8), 1)
    np.testing.assert_array_equal(a.train_idx, b.train_idx)
    assert not np.array_equal(a.train_idx, c.train_idx)


def test_reference_split_is_balanced(mnist):
    split = make_split(mnist.train_labels, mnist.test_labels, (0, 1), 42, balance=True)
    labels = np.concatenate([split.train_y, split.val_y])
    assert labels.sum() == len(labels) / 2 == 5923
    assert split.train_y.mean() == 0.5


@pytest.mark.parametrize("pair", [(3, 3), (10, 1), (-1, 2)])
def test_bad_pairs_rejected(pair):
    with pytest.raises(UserInputError):
        check_pair(pair)


def test_any_pair_works(mnist):
    split = make_split(mnist.train_labels, mnist.test_labels, (9, 2), 0)
    assert set(np.unique(mnist.train_labels[split.train_idx])) == {2, 9}
    assert split.train_y[mnist.train_labels[split.train_idx] == 9].sum() == 0  # first digit → 0


@pytest.mark.parametrize("noise", [0.1, 0.3])
def test_label_noise_flips_that_share_of_training_labels_only(mnist, noise):
    """The flipped labels: round(noise · n) of the training split's, drawn per seed; the
    images, validation and test labels are those of the noiseless split."""
    from dataclasses import replace

    from lowcap.run.plan import ModelPlan
    from lowcap.run.split import plan_split
    from lowcap.training.hyperparameters import Hyperparameters

    hp = Hyperparameters(1, 128, "kaiming_uniform", 0.1, False, 0.2, "relu")
    clean = plan_split(mnist, ModelPlan("corrected", (4, 9), 8, 0.03, 0, hp))
    noisy = plan_split(mnist, ModelPlan("corrected", (4, 9), 8, 0.03, 0,
                                        replace(hp, label_noise=noise)))
    assert (noisy.train_idx == clean.train_idx).all() and (noisy.val_y == clean.val_y).all()
    assert (noisy.test_y == clean.test_y).all()
    assert (noisy.train_y != clean.train_y).sum() == round(noise * len(clean.train_y))
    other_seed = plan_split(mnist, ModelPlan("corrected", (4, 9), 8, 0.03, 1,
                                             replace(hp, label_noise=noise)))
    clean_1 = plan_split(mnist, ModelPlan("corrected", (4, 9), 8, 0.03, 1, hp))
    assert not np.array_equal(np.flatnonzero(other_seed.train_y != clean_1.train_y),
                              np.flatnonzero(noisy.train_y != clean.train_y))
