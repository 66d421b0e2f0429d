"""Saliency maps for 784 → h (→ h …) → 1 MLPs (ReLU or tanh), batched over images and pixels.

- `finite_difference`: the paper's appendix C.2, |f(x + ε e_i) − f(x)| for every pixel i with
  f the sigmoid output. The first layer is linear, so all 784 perturbed pre-activations are
  z(x) + ε W1[:, i]: one batched pass over [N, 784, h], no Python loop over pixels.
- `gradient`: |∂f/∂x| in closed form (checked against Captum's Saliency in the tests).
- `integrated_gradients`: closed-form path integral of the gradient (checked against Captum's
  IntegratedGradients in the tests).
- `agreement`: how alike two sets of maps are — Spearman rank correlation and top-k overlap
  per image — the measured form of "the pruned network keeps the dense one's reasoning".
"""

from __future__ import annotations

import numpy as np
import torch

from lowcap.models import forward as fw
from lowcap.models.mlp import Activation, layer_count
from lowcap.report.statistics import centred_ranks as centred_array_ranks
from lowcap.report.statistics import rank_correlation

Params = dict[str, torch.Tensor]


@torch.no_grad()
def finite_difference(params: Params, x: torch.Tensor, epsilon: float = 0.01,
                      activation: Activation = "relu", chunk: int = 64) -> torch.Tensor:
    """Paper's saliency [N, 784] for images x [N, 784]."""
    w1 = params["w1"]
    out = []
    for start in range(0, x.shape[0], chunk):
        z = fw.pre_activations(params, x[start:start + chunk])  # [n, h]
        base = torch.sigmoid(fw.logits_from_first(params, z, activation))  # [n]
        z_perturbed = z.unsqueeze(1) + epsilon * w1.T.unsqueeze(0)  # [n, 784, h]
        moved = torch.sigmoid(fw.logits_from_first(params, z_perturbed, activation))  # [n, 784]
        out.append((moved - base.unsqueeze(1)).abs())
    return torch.cat(out)


def _input_gradient(params: Params, x: torch.Tensor, activation: Activation) -> torch.Tensor:
    """∂ sigmoid(f(x)) / ∂x [N, 784] in closed form, for any depth: the readout's weights
    carried back through every layer's activation slopes and weights."""
    layers = layer_count(params)
    pre, post = fw.hidden_layers(params, fw.pre_activations(params, x), activation)
    slope = fw.sigmoid_slope(fw.readout(params, post[-1]))
    d_hidden = fw.activation_slope(pre[-1], activation) * params[f"w{layers}"].reshape(-1)
    for k in range(layers - 1, 1, -1):  # back through hidden-to-hidden layer k
        d_hidden = (d_hidden @ params[f"w{k}"]) * fw.activation_slope(pre[k - 2], activation)
    return slope.unsqueeze(1) * (d_hidden @ params["w1"])


@torch.no_grad()
def gradient(params: Params, x: torch.Tensor, activation: Activation = "relu") -> torch.Tensor:
    """|∂ sigmoid(f(x)) / ∂x| [N, 784] in closed form."""
    return _input_gradient(params, x, activation).abs()


@torch.no_grad()
def integrated_gradients(params: Params, x: torch.Tensor, activation: Activation = "relu",
                         steps: int = 50) -> torch.Tensor:
    """Integrated Gradients [N, 784] of the sigmoid output from a black (zero) baseline: x times
    the path integral of the closed-form gradient, on the Gauss–Legendre points Captum uses by
    default (equal to Captum's IntegratedGradients, tested), batched over images."""
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    total = torch.zeros_like(x)
    for node, weight in zip(nodes, weights, strict=True):
        total += 0.5 * weight * _input_gradient(params, 0.5 * (1 + node) * x, activation)
    return x * total


def attribute(method: str, params: Params, x: torch.Tensor, activation: Activation = "relu",
              epsilon: float = 0.01) -> torch.Tensor:
    """One method's maps [N, 784], largest first for the pixels the prediction rests on:
    `finite_difference` and `gradient` (non-negative), `integrated_gradients` signed toward
    the predicted class (evidence for it positive)."""
    if method == "finite_difference":
        return finite_difference(params, x, epsilon, activation)
    if method == "gradient":
        return gradient(params, x, activation)
    if method == "integrated_gradients":
        ig = integrated_gradients(params, x, activation)
        positive = fw.forward(params, x, activation) > 0
        return torch.where(positive.unsqueeze(1), ig, -ig)
    raise ValueError(f"unknown attribution method {method!r}")


def centred_ranks(maps: torch.Tensor) -> np.ndarray:
    """Each map's pixel ranks (ties averaged) minus their mean [N, 784]: Spearman's input
    (per image, `rank_correlation` of two of them is ρ; NaN where a map is constant)."""
    return centred_array_ranks(maps.double().cpu().numpy())


def agreement(maps_a: torch.Tensor, maps_b: torch.Tensor, top_k: int = 50) -> dict[str, np.ndarray]:
    """Per image: Spearman correlation of the two maps, and the fraction of a's top-k pixels
    that are also in b's top-k."""
    a, b = maps_a.double().cpu().numpy(), maps_b.double().cpu().numpy()
    spearman = rank_correlation(centred_ranks(maps_a), centred_ranks(maps_b))
    top_a = np.argsort(-a, axis=1)[:, :top_k]
    top_b = np.argsort(-b, axis=1)[:, :top_k]
    overlap = np.array([len(np.intersect1d(p, q)) / top_k
                        for p, q in zip(top_a, top_b, strict=True)])
    return {"spearman": spearman, "topk_overlap": overlap}
