"""The one functional forward pass of a 784 → h → 1 MLP given its parameters {w1, b1, w2, b2}.

Every analysis computes a model's hidden units, logits and their slopes here, so the model's
activation (ReLU or tanh) reaches all of them. The cohort's batched
training pass takes its in-place activation from `ACTIVATE_IN_PLACE`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lowcap.models.mlp import Activation

Params = dict[str, torch.Tensor]
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu, "tanh": torch.tanh}
ACTIVATE_IN_PLACE: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu_, "tanh": torch.tanh_}


def pre_activations(params: Params, x: torch.Tensor) -> torch.Tensor:
    """Hidden pre-activations z = x W1ᵀ + b1 [N, h] for inputs x [N, 784]."""
    return torch.addmm(params["b1"], x, params["w1"].T)


def activate(z: torch.Tensor, activation: Activation) -> torch.Tensor:
    """The hidden activation applied to pre-activations z."""
    return ACTIVATIONS[activation](z)


def activation_slope(z: torch.Tensor, activation: Activation) -> torch.Tensor:
    """act'(z): 1 where z > 0 for ReLU, 1 − tanh(z)² for tanh."""
    if activation == "relu":
        return (z > 0).to(z.dtype)
    h = torch.tanh(z)
    return 1 - h * h


def readout(params: Params, hidden: torch.Tensor) -> torch.Tensor:
    """Logits [..., N] from hidden activations [..., N, h]."""
    return hidden @ params["w2"].reshape(-1) + params["b2"]


@torch.no_grad()
def hidden_activations(params: Params, x: torch.Tensor, activation: Activation = "relu"
                       ) -> torch.Tensor:
    """Hidden-layer outputs [N, h] of one model."""
    return activate(pre_activations(params, x), activation)


@torch.no_grad()
def every_hidden_layer(params: Params, x: torch.Tensor, activation: Activation = "relu"
                       ) -> list[torch.Tensor]:
    """Each hidden layer's outputs [N, h], input side first, of a model of any depth (numbered
    layers {w1, b1, …}, the last the readout); one hidden layer: [hidden_activations]."""
    layers, h = [], x
    for k in range(1, sum(1 for name in params if name.startswith("w"))):
        h = activate(torch.addmm(params[f"b{k}"], h, params[f"w{k}"].T), activation)
        layers.append(h)
    return layers


def logits_from_first(params: Params, z: torch.Tensor, activation: Activation = "relu"
                      ) -> torch.Tensor:
    """Logits [...] of a model of any depth from its first hidden layer's pre-activations z
    [..., h] (one hidden layer: `readout` of act(z))."""
    layers = sum(1 for name in params if name.startswith("w"))
    h = activate(z, activation)
    for k in range(2, layers):
        h = activate(h @ params[f"w{k}"].T + params[f"b{k}"], activation)
    return h @ params[f"w{layers}"].reshape(-1) + params[f"b{layers}"]


@torch.no_grad()
def forward(params: Params, x: torch.Tensor, activation: Activation = "relu") -> torch.Tensor:
    """Output logits [N] of one model of any depth."""
    return logits_from_first(params, pre_activations(params, x), activation)


def sigmoid_slope(logits: torch.Tensor) -> torch.Tensor:
    """σ'(f) = p(1 − p), computed as σ(f)·σ(−f): 1 − p cancels catastrophically in float32
    once |f| > ~8 (it loses up to 7% at |f| ≈ 12 and is 0 beyond 17), σ(−f) does not."""
    return torch.sigmoid(logits) * torch.sigmoid(-logits)
