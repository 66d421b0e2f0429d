import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, log_loss, roc_auc_score

from lowcap.training.metrics import LabelLayout, classification_metrics, cohort_metrics


@pytest.mark.parametrize("seed", range(4))
def test_f1_and_auc_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300).astype(np.float64)
    logits = rng.normal(size=(6, 300)) + 1.5 * y
    logits[1] = np.round(logits[1])  # many ties
    logits[2] = -5.0  # predicts nothing positive: F1 = 0
    out = classification_metrics(torch.from_numpy(logits), torch.from_numpy(y))
    for row in range(6):
        pred = (1 / (1 + np.exp(-logits[row])) > 0.5).astype(int)
        assert out["f1"][row] == pytest.approx(f1_score(y, pred, zero_division=0), abs=1e-12)
        assert out["auc"][row] == pytest.approx(roc_auc_score(y, logits[row]), abs=1e-12)


def test_non_finite_rows_are_nan_and_others_untouched():
    y = torch.tensor([0.0, 1.0, 1.0, 0.0])
    logits = torch.tensor([[-1.0, 2.0, 0.5, -0.2], [float("nan"), 1.0, 1.0, 1.0]])
    out = classification_metrics(logits, y)
    assert out["f1"][0] == 1.0 and out["auc"][0] == 1.0
    assert all(torch.isnan(v[1]) for v in out.values())
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[0], y)
    assert out["loss"][0] == pytest.approx(expected.item())


def test_cohort_metrics_equal_each_lane_on_its_own():
    """Lanes of different lengths and class balances, padded and shuffled among padding: every
    (lane, model) equals scikit-learn on that lane's real samples alone, and what the padding
    holds (even NaN) changes nothing."""
    rng = np.random.default_rng(0)
    lengths, n, m = (50, 173, 7, 120), 200, 5
    y = np.zeros((4, n))
    real = np.zeros((4, n), dtype=bool)
    logits = rng.normal(size=(4, n, m))
    for g, length in enumerate(lengths):
        real[g, rng.choice(n, length, replace=False)] = True
        y[g] = rng.random(n) < 0.2 + 0.2 * g
        logits[g] += 1.2 * y[g][:, None]
    logits[2, :, 1] = np.round(logits[2, :, 1])  # ties
    logits[~real] = np.nan
    logits[3, np.flatnonzero(real[3])[0], 4] = np.inf  # a diverged model
    out = cohort_metrics(torch.from_numpy(logits), LabelLayout.of(y, real))
    for g in range(4):
        yg = y[g, real[g]]
        for j in range(m):
            scores = logits[g, real[g], j]
            if not np.isfinite(scores).all():
                assert all(torch.isnan(v[g, j]) for v in out.values())
                continue
            probability = 1 / (1 + np.exp(-scores))
            assert out["loss"][g, j] == pytest.approx(log_loss(yg, probability, labels=[0, 1]))
            assert out["f1"][g, j] == pytest.approx(
                f1_score(yg, probability > 0.5, zero_division=0), abs=1e-12)
            expected = roc_auc_score(yg, scores) if 0 < yg.sum() < len(yg) else np.nan
            np.testing.assert_allclose(out["auc"][g, j], expected, atol=1e-12)
