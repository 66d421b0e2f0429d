"""Which hidden units of a (pruned) d → h → … → 1 network still take part: dead units (the
paper's Table 1), units pruning disconnected, and the live rest. Units are counted over every
hidden layer, input side first (one hidden layer: its h units)."""

from __future__ import annotations

import torch

from lowcap.models.forward import every_hidden_layer
from lowcap.models.mlp import Activation, layer_count


def dead_units(params: dict[str, torch.Tensor], x: torch.Tensor,
               activation: Activation = "relu") -> torch.Tensor:
    """Bool [units]: units that give the same output for every input in x. For ReLU that is
    the paper's definition, output 0 on every input (a unit with a constant positive output
    would need an all-zero weight row, which `disconnected_units` counts); for tanh, whose
    output is never constant unless its input is, a constant output."""
    hidden = torch.cat(every_hidden_layer(params, x, activation), dim=1)
    if activation == "relu":
        return hidden.amax(dim=0) <= 0
    return hidden.amax(dim=0) == hidden.amin(dim=0)


def disconnected_units(params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Bool [units]: units pruning cut off, with no outgoing weight left or no incoming one
    (their output is then a constant): whatever they compute, the model's output does not
    depend on the input through them."""
    cut = []
    for k in range(1, layer_count(params)):
        no_out = (params[f"w{k + 1}"].reshape(-1, params[f"w{k}"].shape[0]) == 0).all(dim=0)
        no_in = (params[f"w{k}"] == 0).all(dim=1)
        cut.append(no_out | no_in)
    return torch.cat(cut)


def live_units(params: dict[str, torch.Tensor], x: torch.Tensor,
               activation: Activation = "relu") -> torch.Tensor:
    """Bool [units]: units neither dead on x nor disconnected."""
    return ~dead_units(params, x, activation) & ~disconnected_units(params)
