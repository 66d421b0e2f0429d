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
