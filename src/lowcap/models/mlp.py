"""The plain 784 → h → 1 MLP and its seeded initialisation, shared by the cohort and tests."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

INPUT_DIM = 784
Activation = Literal["relu", "tanh"]
InitScheme = Literal["kaiming_uniform", "normal"]


@dataclass(frozen=True)
class InitSpec:
    """How weights start: PyTorch's nn.Linear default, or N(0, std²) weights with zero biases."""

    scheme: InitScheme = "kaiming_uniform"
    std: float = 0.1


def init_seed(seed: int, hidden: int) -> int:
    """The torch generator seed of a model: derived from its run seed and width."""
    return int(np.random.SeedSequence([seed, hidden]).generate_state(1)[0])


def init_params(hidden: int, seed: int, init: InitSpec = InitSpec(),
                input_dim: int = INPUT_DIM) -> dict[str, torch.Tensor]:
    """Initial float64 CPU parameters {w1 [h, d], b1 [h], w2 [1, h], b2 [1]} of one model.

    `kaiming_uniform` draws exactly what nn.Linear's reset_parameters draws, in the same order,
    from a generator seeded by `init_seed(seed, hidden)`.
    """
    gen = torch.Generator().manual_seed(init_seed(seed, hidden))
    params = {}
    for name, fan_in, fan_out in (("1", input_dim, hidden), ("2", hidden, 1)):
        weight = torch.empty(fan_out, fan_in)
        bias = torch.empty(fan_out)
        if init.scheme == "kaiming_uniform":
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=gen)
            bound = 1.0 / math.sqrt(fan_in)
            nn.init.uniform_(bias, -bound, bound, generator=gen)
        else:
            nn.init.normal_(weight, 0.0, init.std, generator=gen)
            nn.init.zeros_(bias)
        params[f"w{name}"], params[f"b{name}"] = weight.double(), bias.double()
    return params


def build_mlp(params: dict[str, torch.Tensor], activation: Activation = "relu") -> nn.Sequential:
    """A plain nn.Module (Linear, activation, Linear) holding `params`; outputs logits [N, 1]."""
    w1, w2 = params["w1"], params["w2"]
    hidden, input_dim = w1.shape
    act: nn.Module = nn.ReLU() if activation == "relu" else nn.Tanh()
    model = nn.Sequential(nn.Linear(input_dim, hidden), act, nn.Linear(hidden, 1))
    with torch.no_grad():
        model[0].weight.copy_(w1)
        model[0].bias.copy_(params["b1"])
        model[2].weight.copy_(w2.reshape(1, hidden))
        model[2].bias.copy_(params["b2"].reshape(1))
    return model.to(dtype=w1.dtype, device=w1.device)
