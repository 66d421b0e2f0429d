"""Which hidden units of a (pruned) 784 → h → 1 network still take part: dead units (the
paper's Table 1), units pruning disconnected, and the live rest."""

from __future__ import annotations

import torch

from lowcap.models.forward import hidden_activations
from lowcap.models.mlp import Activation


def dead_units(params: dict[str, torch.Tensor], x: torch.Tensor,
               activation: Activation = "relu") -> torch.Tensor:
    """Bool [h]: units that give the same output for every input in x. For ReLU that is the
    paper's definition, output 0 on every input (a unit with a constant positive output would
    need an all-zero weight row, which `disconnected_units` counts); for tanh, whose output is
    never constant unless its input is, a constant output."""
    hidden = hidden_activations(params, x, activation)
    if activation == "relu":
        return hidden.amax(dim=0) <= 0
    return hidden.amax(dim=0) == hidden.amin(dim=0)


def disconnected_units(params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Bool [h]: units pruning cut off, with no outgoing weight left or no incoming one (their
    output is then a constant): whatever they compute, the model's output does not depend on
    the input through them."""
    no_out = params["w2"].reshape(-1) == 0
    no_in = (params["w1"] == 0).all(dim=1)
    return no_out | no_in


def live_units(params: dict[str, torch.Tensor], x: torch.Tensor,
               activation: Activation = "relu") -> torch.Tensor:
    """Bool [h]: units neither dead on x nor disconnected."""
    return ~dead_units(params, x, activation) & ~disconnected_units(params)
