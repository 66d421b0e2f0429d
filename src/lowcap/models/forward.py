"""The one functional forward pass of a 784 → h (→ h …) → 1 MLP given its numbered layers
{w1, b1, …} (one hidden layer: {w1, b1, w2, b2}; the last layer is the readout).

Every analysis computes a model's hidden units, logits and their slopes here, so the model's
activation (ReLU or tanh) reaches all of them. The cohort's batched
training pass takes its in-place activation from `ACTIVATE_IN_PLACE`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lowcap.models.mlp import Activation, layer_count

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


def hidden_layers(params: Params, z: torch.Tensor, activation: Activation = "relu"
                  ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Every hidden layer's pre-activations and outputs [..., h], input side first, from the
    first layer's pre-activations z [..., h] (one hidden layer: ([z], [act(z)]))."""
    pre, post = [z], [activate(z, activation)]
    for k in range(2, layer_count(params)):
        pre.append(post[-1] @ params[f"w{k}"].T + params[f"b{k}"])
        post.append(activate(pre[-1], activation))
    return pre, post


def readout(params: Params, hidden: torch.Tensor) -> torch.Tensor:
    """Logits [...] from the last hidden layer's outputs [..., h]."""
    last = layer_count(params)
    return hidden @ params[f"w{last}"].reshape(-1) + params[f"b{last}"]


@torch.no_grad()
def every_hidden_layer(params: Params, x: torch.Tensor, activation: Activation = "relu"
                       ) -> list[torch.Tensor]:
    """Each hidden layer's outputs [N, h], input side first, for inputs x [N, d]."""
    return hidden_layers(params, pre_activations(params, x), activation)[1]


def logits_from_first(params: Params, z: torch.Tensor, activation: Activation = "relu"
                      ) -> torch.Tensor:
    """Logits [...] from the first hidden layer's pre-activations z [..., h]."""
    return readout(params, hidden_layers(params, z, activation)[1][-1])


@torch.no_grad()
def forward(params: Params, x: torch.Tensor, activation: Activation = "relu") -> torch.Tensor:
    """Output logits [N] of one model of any depth."""
    return logits_from_first(params, pre_activations(params, x), activation)


def sigmoid_slope(logits: torch.Tensor) -> torch.Tensor:
    """σ'(f) = p(1 − p), computed as σ(f)·σ(−f): 1 − p cancels catastrophically in float32
    once |f| > ~8 (it loses up to 7% at |f| ≈ 12 and is 0 beyond 17), σ(−f) does not."""
    return torch.sigmoid(logits) * torch.sigmoid(-logits)
