"""Mutual information between hidden units and a binary label, for every unit at once.

The estimator is the plug-in ("binned") one: each unit's activations over N images are cut
into `bins` equal-width bins between that unit's minimum and maximum, and
I(unit; label) = Σ_b,y p(b, y) log2 p(b, y) / (p(b) p(y)) in bits (at most H(label) ≤ 1 bit).
A constant unit (dead, or cut off by pruning) carries 0 bits. Plug-in estimates are biased
upwards by about (bins − 1) / (2 N ln 2) bits: 0.006 bits for 16 bins and 2,000 images.
"""

from __future__ import annotations

import math

import torch


def unit_label_information(hidden: torch.Tensor, labels: torch.Tensor, bins: int = 16
                           ) -> torch.Tensor:
    """I(unit; label) in bits [H] of activations hidden [N, H] and 0/1 labels [N]."""
    n, h = hidden.shape
    values = hidden.double()
    low, high = values.min(0).values, values.max(0).values
    span = (high - low).clamp_min(1e-12)
    index = ((values - low) / span * bins).long().clamp_(0, bins - 1)
    index[:, high - low <= 1e-12] = 0  # a constant unit: one bin
    y = labels.long().reshape(-1, 1).expand(n, h)
    cell = (torch.arange(h, device=hidden.device) * (2 * bins) + index * 2 + y).reshape(-1)
    counts = torch.zeros(h * bins * 2, dtype=torch.float64, device=hidden.device)
    counts.index_add_(0, cell, torch.ones_like(cell, dtype=torch.float64))
    joint = counts.reshape(h, bins, 2) / n
    p_bin = joint.sum(2, keepdim=True)
    p_label = joint.sum(1, keepdim=True)
    ratio = joint / (p_bin * p_label).clamp_min(1e-300)
    terms = torch.where(joint > 0, joint * torch.log(ratio.clamp_min(1e-300)), 0.0)
    return terms.sum((1, 2)) / math.log(2)


def specialisation(information: torch.Tensor) -> dict[str, float]:
    """How one model's label information spreads over its units (bits [H]): the total and
    the mean per unit, the best unit's, the best unit's share of the total, and the
    normalised entropy of the shares (0: all in one unit, 1: spread evenly; NaN for a single
    unit)."""
    total = float(information.sum())
    out = {"total_bits": total, "mean_bits": float(information.mean()),
           "max_bits": float(information.max()), "top_share": math.nan,
           "spread": math.nan}
    if total > 0:
        shares = information / total
        out["top_share"] = float(shares.max())
        if len(information) > 1:
            entropy = -float(torch.where(shares > 0, shares * shares.log(), 0.0).sum())
            out["spread"] = entropy / math.log(len(information))
    return out
