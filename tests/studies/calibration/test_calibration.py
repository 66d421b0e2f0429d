"""Calibration: its measures equal torchmetrics' and scikit-learn's and a plain loop's on the
same predictions, its claim never holds on noise and holds on a clear effect, and the
command measures a finished run's models."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import brier_score_loss
from torchmetrics.functional.classification import binary_calibration_error

from lowcap.report.claims import check_claims
from lowcap.studies.calibration.claims import CLAIMS
from lowcap.studies.calibration.measures import brier, equal_mass, equal_width


def predictions(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities with a few exact 0s and 1s (a saturated sigmoid), and labels."""
    rng = np.random.default_rng(seed)
    p = rng.beta(0.6, 0.6, n)
    p[:5], p[5:10] = 0.0, 1.0
    return p, (rng.random(n) < p ** 1.5).astype(float)


@pytest.mark.parametrize("bins", [2, 10, 15])
def test_ece_equals_torchmetrics_binary_calibration_error(bins):
    p, y = predictions(bins)
    theirs = binary_calibration_error(torch.from_numpy(p), torch.from_numpy(y).long(),
                                      n_bins=bins, norm="l1")
    assert equal_width(p, y, bins).error() == pytest.approx(float(theirs), abs=1e-12)


def test_equal_mass_ece_equals_a_plain_loop_and_brier_equals_scikit_learn():
    p, y = predictions(1, 1001)
    order = sorted(range(len(p)), key=lambda i: p[i])  # stable, like the implementation
    size, extra = divmod(len(p), 7)
    expected, start = 0.0, 0
    for b in range(7):
        members = order[start:start + size + (b < extra)]
        start += len(members)
        expected += len(members) / len(p) * abs(np.mean(y[members]) - np.mean(p[members]))
    assert equal_mass(p, y, 7).error() == pytest.approx(expected, abs=1e-12)
    assert brier(p, y) == pytest.approx(brier_score_loss(y, p), abs=1e-15)


def test_a_calibrated_forecaster_scores_near_zero_and_a_confident_wrong_one_near_one():
    rng = np.random.default_rng(0)
    p = rng.random(200_000)
    y = (rng.random(len(p)) < p).astype(float)
    assert equal_width(p, y, 15).error() < 0.005
    assert equal_mass(p, y, 15).error() < 0.005
    assert equal_width(np.full(100, 0.99), np.zeros(100), 15).error() == pytest.approx(0.99)


def calibration_section(ece) -> dict:
    """ECE per (pair, width, seed) from `ece(width, rng)`."""
    rng = np.random.default_rng(5)
    return {"calibration": {"min_effect": 0.005, "by_width": {}, "ece_by_seed": {
        pair: {str(w): {str(s): float(ece(w, rng)) for s in range(10)} for w in (2, 8, 32)}
        for pair in ("0-1", "4-9")}}}


def verdict(section: dict) -> str:
    (claim,) = check_claims("corrected", section, CLAIMS)
    return claim["verdict"]


def test_the_claim_never_holds_on_noise_and_holds_on_a_clear_effect():
    verdicts = [verdict(calibration_section(lambda w, rng, c=c: rng.normal(0.05, 0.02)))
                for c in range(20)]
    assert "holds" not in verdicts
    grows = calibration_section(lambda w, rng: 0.01 * np.log2(w) + rng.normal(0, 0.002))
    assert verdict(grows) == "holds"
    tiny = calibration_section(lambda w, rng: 0.0001 * np.log2(w) + rng.normal(0, 0.00001))
    assert verdict(tiny) == "negligible"
    falls = calibration_section(lambda w, rng: 0.2 / w + rng.normal(0, 0.002))
    assert verdict(falls) == "does not hold"


@pytest.mark.slow
def test_the_command_measures_a_runs_models_and_reports_them(run_copy, run_cli):
    code, _, err = run_cli("calibration", str(run_copy), "--bins", "10", "--quiet",
                           "--device", "cpu")
    assert code == 0, err
    summary = json.loads((run_copy / "summary.json").read_text())
    section = summary["protocols"]["corrected"]["calibration"]
    assert section["bins"] == 10 and set(section["by_width"]) == {"2", "8", "24"}
    for scores in section["by_width"].values():
        for state in ("dense", "pruned"):
            assert 0 <= scores[state]["ece"] <= 1 and 0 <= scores[state]["brier"] <= 1
    assert {c["protocol"] for c in summary["claims"]
            if c["id"] == "calibration_error_grows_with_width"} == {"corrected", "reference"}
    assert (run_copy / "figures" / "figK1_calibration_corrected.png").is_file()
    assert "calibration by width" in (run_copy / "report.html").read_text()
