"""Mutual information of hidden units with the label: known values, the estimator against
scikit-learn on the same bins, and the specialisation scores."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import mutual_info_score

from lowcap.studies.unit_information.information import (
    specialisation,
    unit_label_information,
)


def _labels(n=4000, positive=0.5, seed=0):
    return torch.from_numpy((np.random.default_rng(seed).random(n) < positive).astype(float))


@pytest.mark.parametrize("positive", [0.5, 0.2])
def test_a_unit_that_copies_the_label_carries_all_of_its_entropy(positive):
    y = _labels(positive=positive)
    p = float(y.mean())
    entropy = -(p * math.log2(p) + (1 - p) * math.log2(1 - p))
    hidden = torch.stack([3.0 * y, 1.0 - y, torch.zeros_like(y)], 1)  # copy, flipped, dead
    bits = unit_label_information(hidden, y)
    assert bits[0].item() == pytest.approx(entropy, rel=1e-12)
    assert bits[1].item() == pytest.approx(entropy, rel=1e-12)
    assert bits[2].item() == 0.0


def test_an_independent_unit_carries_almost_nothing_and_a_noisy_copy_something_between():
    y = _labels(n=20000)
    gen = torch.Generator().manual_seed(1)
    noise = torch.randn(len(y), generator=gen, dtype=torch.float64)
    bits = unit_label_information(torch.stack([noise, y + 0.5 * noise], 1), y)
    assert bits[0] < 0.005  # plug-in bias ≈ 15 / (2 · 20000 · ln 2) = 0.0005 bits
    assert 0.2 < bits[1] < 0.9


def test_the_estimate_is_scikit_learns_mutual_information_of_the_binned_activations():
    y = _labels(n=3000)
    gen = torch.Generator().manual_seed(2)
    hidden = torch.relu(torch.randn(3000, 5, generator=gen, dtype=torch.float64) + y[:, None])
    bits = unit_label_information(hidden, y, bins=8)
    for j in range(5):
        column = hidden[:, j].numpy()
        binned = np.minimum((column - column.min()) / (column.max() - column.min()) * 8, 7)
        expected = mutual_info_score(y.numpy(), binned.astype(int)) / math.log(2)
        assert bits[j].item() == pytest.approx(expected, rel=1e-9)


def test_specialisation_of_one_informative_unit_and_of_an_even_spread():
    one = specialisation(torch.tensor([0.8, 0.0, 0.0, 0.0], dtype=torch.float64))
    assert one["top_share"] == 1.0 and one["spread"] == 0.0 and one["max_bits"] == 0.8
    even = specialisation(torch.full((4,), 0.25, dtype=torch.float64))
    assert even["top_share"] == 0.25 and even["spread"] == pytest.approx(1.0)
    assert math.isnan(specialisation(torch.zeros(3, dtype=torch.float64))["top_share"])


def test_the_smoke_run_reports_unit_information_per_width(smoke_run):
    import json

    summary = json.loads((smoke_run / "summary.json").read_text())
    section = summary["protocols"]["corrected"]["unit_information"]
    assert section["by_width"]
    for states in section["by_width"].values():
        assert 0 <= states["dense"]["mean_bits"] <= 1
        assert 0 < states["dense"]["top_share"] <= 1
    assert (smoke_run / "figures" / "figI1_unit_information_corrected.png").exists()
