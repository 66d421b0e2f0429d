import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, roc_auc_score

from lowcap.training.metrics import classification_metrics, f1_at_half, roc_auc


@pytest.mark.parametrize("seed", range(4))
def test_f1_and_auc_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300).astype(np.float64)
    logits = rng.normal(size=(6, 300)) + 1.5 * y
    logits[1] = np.round(logits[1])  # many ties
    logits[2] = -5.0  # predicts nothing positive: F1 = 0
    t_logits, t_y = torch.from_numpy(logits), torch.from_numpy(y)
    f1 = f1_at_half(t_logits, t_y).numpy()
    auc = roc_auc(t_logits, t_y).numpy()
    for row in range(6):
        pred = (1 / (1 + np.exp(-logits[row])) > 0.5).astype(int)
        assert f1[row] == pytest.approx(f1_score(y, pred, zero_division=0), abs=1e-12)
        assert auc[row] == pytest.approx(roc_auc_score(y, logits[row]), abs=1e-12)


def test_non_finite_rows_are_nan_and_others_untouched():
    y = torch.tensor([0.0, 1.0, 1.0, 0.0])
    logits = torch.tensor([[-1.0, 2.0, 0.5, -0.2], [float("nan"), 1.0, 1.0, 1.0]])
    out = classification_metrics(logits, y)
    assert out["f1"][0] == 1.0 and out["auc"][0] == 1.0
    assert all(torch.isnan(v[1]) for v in out.values())
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[0], y)
    assert out["loss"][0] == pytest.approx(expected.item())
