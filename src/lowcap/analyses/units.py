"""Which hidden units of a (pruned) 784 → h → 1 ReLU network still take part: dead units
(the paper's Table 1), units pruning disconnected, and the live rest."""

from __future__ import annotations

import torch

from lowcap.analyses.evaluate import hidden_activations


def dead_units(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Bool [h]: units whose ReLU output is 0 for every input in x."""
    return hidden_activations(params, x).amax(dim=0) <= 0


def disconnected_units(params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Bool [h]: units pruning cut off, with no outgoing weight left or no incoming one (their
    output is then a constant): whatever they compute, the model's output does not depend on
    the input through them."""
    no_out = params["w2"].reshape(-1) == 0
    no_in = (params["w1"] == 0).all(dim=1)
    return no_out | no_in


def live_units(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Bool [h]: units neither dead on x nor disconnected."""
    return ~dead_units(params, x) & ~disconnected_units(params)
