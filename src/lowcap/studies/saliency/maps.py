"""Saliency maps for 784 → h → 1 MLPs (ReLU or tanh), batched over images and pixels.

- `finite_difference`: the paper's appendix C.2, |f(x + ε e_i) − f(x)| for every pixel i with
  f the sigmoid output. The first layer is linear, so all 784 perturbed pre-activations are
  z(x) + ε W1[:, i]: one batched pass over [N, 784, h], no Python loop over pixels.
- `gradient`: |∂f/∂x| in closed form (checked against Captum's Saliency in the tests).
- `integrated_gradients`: Captum's IntegratedGradients on the plain nn.Module.
- `agreement`: how alike two sets of maps are — Spearman rank correlation and top-k overlap
  per image — the measured form of "the pruned network keeps the dense one's reasoning".
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import rankdata

from lowcap.models import forward as fw
from lowcap.models.mlp import Activation, build_mlp

Params = dict[str, torch.Tensor]


@torch.no_grad()
def finite_difference(params: Params, x: torch.Tensor, epsilon: float = 0.01,
                      activation: Activation = "relu", chunk: int = 64) -> torch.Tensor:
    """Paper's saliency [N, 784] for images x [N, 784]."""
    w1 = params["w1"]
    out = []
    for start in range(0, x.shape[0], chunk):
        z = fw.pre_activations(params, x[start:start + chunk])  # [n, h]
        base = torch.sigmoid(fw.readout(params, fw.activate(z, activation)))  # [n]
        z_perturbed = z.unsqueeze(1) + epsilon * w1.T.unsqueeze(0)  # [n, 784, h]
        moved = torch.sigmoid(fw.readout(params, fw.activate(z_perturbed, activation)))  # [n, 784]
        out.append((moved - base.unsqueeze(1)).abs())
    return torch.cat(out)


@torch.no_grad()
def gradient(params: Params, x: torch.Tensor, activation: Activation = "relu") -> torch.Tensor:
    """|∂ sigmoid(f(x)) / ∂x| [N, 784] in closed form."""
    z = fw.pre_activations(params, x)
    slope = fw.sigmoid_slope(fw.readout(params, fw.activate(z, activation)))
    d_hidden = fw.activation_slope(z, activation) * params["w2"].reshape(-1)  # [N, h]
    return (slope.unsqueeze(1) * (d_hidden @ params["w1"])).abs()


class _Probability(torch.nn.Module):
    """The model's sigmoid output as a 1-D tensor, the form Captum attributes."""

    def __init__(self, params: Params, activation: Activation = "relu"):
        super().__init__()
        self.mlp = build_mlp(params, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.mlp(x)).squeeze(-1)


def integrated_gradients(params: Params, x: torch.Tensor, activation: Activation = "relu",
                         steps: int = 50) -> torch.Tensor:
    """Captum Integrated Gradients [N, 784] of the sigmoid output, black (zero) baseline."""
    from captum.attr import IntegratedGradients

    return IntegratedGradients(_Probability(params, activation)).attribute(
        x, baselines=torch.zeros_like(x), n_steps=steps).detach()


def captum_saliency(params: Params, x: torch.Tensor, activation: Activation = "relu"
                    ) -> torch.Tensor:
    """Captum's Saliency (|gradient|) of the sigmoid output: the reference for `gradient`."""
    from captum.attr import Saliency

    return Saliency(_Probability(params, activation)).attribute(x.clone().requires_grad_(True),
                                                    abs=True).detach()


def agreement(maps_a: torch.Tensor, maps_b: torch.Tensor, top_k: int = 50) -> dict[str, np.ndarray]:
    """Per image: Spearman correlation of the two maps, and the fraction of a's top-k pixels
    that are also in b's top-k."""
    a, b = maps_a.double().cpu().numpy(), maps_b.double().cpu().numpy()
    ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    denom = np.sqrt((ra**2).sum(1) * (rb**2).sum(1))
    spearman = np.where(denom > 0, (ra * rb).sum(1) / np.where(denom > 0, denom, 1), np.nan)
    top_a = np.argsort(-a, axis=1)[:, :top_k]
    top_b = np.argsort(-b, axis=1)[:, :top_k]
    overlap = np.array([len(np.intersect1d(p, q)) / top_k
                        for p, q in zip(top_a, top_b, strict=True)])
    return {"spearman": spearman, "topk_overlap": overlap}
