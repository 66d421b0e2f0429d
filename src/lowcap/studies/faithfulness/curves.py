"""Deletion and insertion curves of attribution maps (Petsiuk et al. 2018; Quantus' "pixel
flipping"), batched over images and curve points, and the model-randomisation check
(Adebayo et al. 2018).

A map ranks the 784 pixels. The deletion curve sets the top-k pixels to 0 (MNIST's black
background) for k from 0 to 784 and follows the model's probability of the true class; the
insertion curve starts from a black image and puts the top-k pixels back. A faithful map
makes the deletion curve fall fast (a low area) and the insertion curve rise fast (a high
area); a random ranking is the baseline.
"""

from __future__ import annotations

import numpy as np
import torch

from lowcap.models import forward as fw
from lowcap.models.mlp import Activation

Params = dict[str, torch.Tensor]


def pixel_counts(points: int) -> list[int]:
    """The k of each curve point: `points` evenly spaced counts from 0 to 784."""
    return np.linspace(0, 784, points).round().astype(int).tolist()


@torch.no_grad()
def deletion_insertion(params: Params, x: torch.Tensor, y: torch.Tensor,
                       attribution: torch.Tensor, counts: list[int],
                       activation: Activation = "relu") -> dict[str, torch.Tensor]:
    """{'deletion', 'insertion'}: the mean probability of the true class [len(counts)] over
    images x [N, 784] (labels y), removing / inserting pixels in `attribution` order
    (largest first; ties by pixel index)."""
    order = torch.argsort(-attribution, dim=1, stable=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(784, device=x.device).expand_as(order))
    ks = torch.tensor(counts, device=x.device)
    top = rank.unsqueeze(0) < ks[:, None, None]  # [K, N, 784]: among the top k
    curves = {}
    for name, keep in (("deletion", ~top), ("insertion", top)):
        inputs = (x.unsqueeze(0) * keep).reshape(-1, 784)
        p = torch.sigmoid(fw.forward(params, inputs, activation)).reshape(len(counts), -1)
        curves[name] = torch.where(y.bool(), p, 1 - p).mean(1)
    return curves


def area(curve: torch.Tensor) -> float:
    """Area under a curve sampled evenly on [0, 1] (trapezoid rule)."""
    values = curve.double().cpu().numpy()
    return float(((values[1:] + values[:-1]) / 2).mean())
