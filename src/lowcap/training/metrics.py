"""Binary-classification metrics of many models on many lanes at once, in one tensor program.

`cohort_metrics` takes logits [G, N, M] (M models on each of G lanes, N samples) and a
`LabelLayout` (each lane's labels, which samples are real, where its positives and negatives
are) and returns loss, F1 and ROC-AUC [G, M], matching scikit-learn's `f1_score`
(zero_division=0) and `roc_auc_score` (ties count one half). No Python loop over lanes or
models and no host synchronisation: the layout is built once on the host, from labels the
caller already holds there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from lowcap.ops import sort_rows

METRICS = ("loss", "f1", "auc")


@dataclass(frozen=True)
class LabelLayout:
    """Labels y [G, N], the real-sample mask [G, N], and per lane the positions of its real
    positives [G, P] and negatives [G, Q] (padded; `*_real` marks the real entries)."""

    y: torch.Tensor
    real: torch.Tensor
    positives: torch.Tensor
    positive_real: torch.Tensor
    negatives: torch.Tensor
    negative_real: torch.Tensor

    @classmethod
    def of(cls, y: np.ndarray, real: np.ndarray, device: str | torch.device = "cpu",
           dtype: torch.dtype = torch.float32) -> LabelLayout:
        """The layout of labels y [G, N] (0/1) whose samples `real` [G, N] (bool) count."""
        def positions(select: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
            width = max(1, int(select.sum(1).max()))
            index = np.zeros((len(select), width), dtype=np.int64)
            valid = np.zeros(index.shape, dtype=bool)
            for g, row in enumerate(select):
                found = np.flatnonzero(row)
                index[g, : len(found)], valid[g, : len(found)] = found, True
            return torch.from_numpy(index).to(device), torch.from_numpy(valid).to(device)

        real = np.asarray(real, dtype=bool)
        positive = real & (np.asarray(y) > 0.5)
        pos, pos_real = positions(positive)
        neg, neg_real = positions(real & ~positive)
        return cls(torch.as_tensor(np.asarray(y), dtype=dtype).to(device),
                   torch.from_numpy(real).to(device), pos, pos_real, neg, neg_real)


def _sorted_scores(scores: torch.Tensor, index: torch.Tensor, real: torch.Tensor
                   ) -> torch.Tensor:
    """scores [G, M, N] at each lane's `index` [G, K], +inf where not real, each row sorted:
    [G·M, K]."""
    g, m, _ = scores.shape
    picked = scores.gather(2, index.unsqueeze(1).expand(g, m, -1))
    picked = picked.masked_fill(~real.unsqueeze(1), float("inf"))
    return sort_rows(picked.reshape(g * m, -1))


def _auc(scores: torch.Tensor, labels: LabelLayout) -> torch.Tensor:
    """ROC-AUC [G, M] from finite scores [G, M, N]: P(positive > negative) + ½ P(equal),
    by `searchsorted` of the sorted positives among the sorted negatives (+inf padding is
    never below a real score, and padded positives are masked out)."""
    g, m, _ = scores.shape
    neg = _sorted_scores(scores, labels.negatives, labels.negative_real)
    # Sorted queries: searchsorted walks memory in order, about twice as fast.
    pos = _sorted_scores(scores, labels.positives, labels.positive_real)
    below = torch.searchsorted(neg, pos, side="left")
    not_above = torch.searchsorted(neg, pos, side="right")
    wins = (below + not_above).to(scores.dtype).mul_(0.5)
    # Real positives come first in each sorted row, as many as the lane has.
    n_pos = labels.positive_real.sum(1)
    n_neg = labels.negative_real.sum(1)
    counted = torch.arange(pos.shape[1], device=pos.device) < n_pos.repeat_interleave(m)[:, None]
    total = (wins * counted).sum(1).reshape(g, m)
    pairs = (n_pos * n_neg).to(scores.dtype).unsqueeze(1)
    return torch.where(pairs > 0, total / pairs.clamp_min(1), float("nan"))


def cohort_metrics(logits: torch.Tensor, labels: LabelLayout) -> dict[str, torch.Tensor]:
    """{'loss', 'f1', 'auc'} [G, M] (logits' dtype and device) of logits [G, N, M]; a model
    with any non-finite logit on a real sample gets NaN throughout."""
    real = labels.real.unsqueeze(-1)
    finite_entries = torch.isfinite(logits)
    finite = (finite_entries | ~real).all(1)
    safe = torch.where(finite_entries, logits, torch.zeros((), dtype=logits.dtype,
                                                           device=logits.device))
    weight = real.to(logits.dtype)
    y = labels.y.unsqueeze(-1).to(logits.dtype)
    bce = F.binary_cross_entropy_with_logits(safe, y.expand_as(safe), reduction="none")
    loss = (bce * weight).sum(1) / weight.sum(1).clamp_min(1)
    predicted = (safe > 0).to(logits.dtype) * weight
    true_pos = (predicted * y).sum(1)
    denominator = predicted.sum(1) + (y * weight).sum(1)  # 2·tp + fp + fn
    f1 = torch.where(denominator > 0, 2 * true_pos / denominator.clamp_min(1),
                     torch.zeros_like(true_pos))
    auc = _auc(safe.transpose(1, 2), labels)
    nan = torch.full_like(loss, float("nan"))
    return {"loss": torch.where(finite, loss, nan), "f1": torch.where(finite, f1, nan),
            "auc": torch.where(finite, auc, nan)}


def classification_metrics(logits: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """{'loss', 'f1', 'auc'} per row of logits [R, N] (R models, labels y [N]); rows with any
    non-finite logit get NaN throughout."""
    labels = y.detach().cpu().numpy()[None]
    layout = LabelLayout.of(labels, np.ones(labels.shape, dtype=bool), logits.device, y.dtype)
    return {k: v[0] for k, v in cohort_metrics(logits.T.unsqueeze(0), layout).items()}
