"""The linear baseline: the separability test agrees with the plain LP on the whole set, on
separable and inseparable data; the report names the separable pairs; a smoke run stores the
logistic baseline beside the capacity table."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lowcap.studies.linear_baseline.report import separability_note
from lowcap.studies.linear_baseline.separability import (
    TOLERANCE,
    _max_margin,
    linearly_separable,
)


def _data(kind: str, seed: int, n: int = 600, d: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    score = x @ w
    if kind == "separable":  # a margin around a random hyperplane
        keep = np.abs(score) > 0.5
        return x[keep], (score[keep] > 0).astype(float)
    y = (score > 0).astype(float)
    flip = rng.choice(len(y), 5, replace=False)  # five labels on the wrong side
    y[flip] = 1 - y[flip]
    return x, y


@pytest.mark.parametrize("kind", ["separable", "noisy"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_working_set_lp_agrees_with_the_whole_lp(kind, seed):
    x, y = _data(kind, seed)
    whole, _, _ = _max_margin(x, np.where(y > 0.5, 1.0, -1.0))
    answer = linearly_separable(x, y, seed=seed)
    assert answer.separable == (whole > TOLERANCE) == (kind == "separable")
    assert answer.rounds >= 1


def test_a_separating_guess_needs_no_lp_and_a_wrong_one_is_checked():
    x, y = _data("separable", 0)
    truth = np.random.default_rng(0)  # the hyperplane `_data` drew after x
    truth.normal(size=(600, 20))
    w = truth.normal(size=20)
    first = linearly_separable(x, y, guess=(w, 0.0))
    assert first.separable and first.rounds == 0
    wrong = linearly_separable(x, y, guess=(-w, 0.0))
    assert wrong.separable and wrong.rounds >= 1
    noisy_x, noisy_y = _data("noisy", 0)
    assert not linearly_separable(noisy_x, noisy_y, guess=(w, 0.0)).separable


def test_the_note_names_the_separable_pairs():
    result = {"0-1": {"separable": True}, "4-9": {"separable": False}}
    assert "0-1" in separability_note(result) and "4-9" not in separability_note(result)
    assert "No pair" in separability_note({"4-9": {"separable": False}})
    assert "not tested" in separability_note({"4-9": {"separable": None}})


def test_a_smoke_run_has_the_logistic_baseline_beside_capacity(smoke_run):
    summary = json.loads((smoke_run / "summary.json").read_text())
    for protocol in ("corrected", "reference"):
        baseline = summary["protocols"][protocol]["linear_baseline"]
        assert set(baseline) == set(summary["protocols"][protocol]["capacity"])
        assert all(0.9 < e["logistic_val_f1"] <= 1 and e["separable"] is None
                   for e in baseline.values())
    page = (smoke_run / "report.html").read_text()
    capacity = page.index("<h3>§4.2 Minimum capacity")
    following = page.index("<h3>", capacity + 1)  # the very next section
    assert page[following:].startswith("<h3>§4.2 beside it: linear baseline and separability")
