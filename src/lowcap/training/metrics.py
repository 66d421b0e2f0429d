"""Binary-classification metrics for many models at once: rows are models, columns samples.

All functions take logits [R, N] (R models) and labels y [N] (0/1) and return one value per row,
matching scikit-learn's `f1_score` (zero_division=0) and `roc_auc_score` (ties count one half).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lowcap.ops import sort_rows


def bce_with_logits(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy per row, computed stably from logits."""
    target = y.expand_as(logits)
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean(dim=-1)


def f1_at_half(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """F1 of predicting 1 where sigmoid(logit) > 0.5 (logit > 0); 0 when undefined."""
    pred = (logits > 0).to(logits.dtype)
    tp = (pred * y).sum(-1)
    fp = (pred * (1 - y)).sum(-1)
    fn = ((1 - pred) * y).sum(-1)
    denom = 2 * tp + fp + fn
    return torch.where(denom > 0, 2 * tp / denom.clamp_min(1), torch.zeros_like(tp))


def roc_auc(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """ROC-AUC per row: P(score of a positive > score of a negative) + ½ P(equal).

    Uses sorted scores and `searchsorted`, O(N log N) per row, no Python loop.
    """
    pos = logits[:, y > 0.5]
    neg = logits[:, y <= 0.5]
    if pos.shape[1] == 0 or neg.shape[1] == 0:
        return torch.full(logits.shape[:1], float("nan"), dtype=logits.dtype,
                          device=logits.device)
    neg_sorted = sort_rows(neg)
    pos = sort_rows(pos)  # sorted queries: searchsorted walks memory in order, twice as fast
    below = torch.searchsorted(neg_sorted, pos, side="left").to(logits.dtype)
    not_above = torch.searchsorted(neg_sorted, pos, side="right").to(logits.dtype)
    wins = below + 0.5 * (not_above - below)
    return wins.sum(-1) / (pos.shape[1] * neg.shape[1])


def classification_metrics(logits: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """{'loss', 'f1', 'auc'} per row; rows with any non-finite logit get NaN throughout."""
    finite = torch.isfinite(logits).all(dim=-1)
    safe = torch.where(finite.unsqueeze(-1), logits, torch.zeros_like(logits))
    nan = torch.full_like(finite, float("nan"), dtype=logits.dtype)
    return {
        "loss": torch.where(finite, bce_with_logits(safe, y), nan),
        "f1": torch.where(finite, f1_at_half(safe, y), nan),
        "auc": torch.where(finite, roc_auc(safe, y), nan),
    }
