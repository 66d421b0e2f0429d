"""The plain d → h → … → h → 1 MLP (784 → h → 1 in the paper) and its seeded initialisation,
shared by the cohort and tests. Parameters are numbered layers {w1, b1, …, wL, bL}, the last
one the readout."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

INPUT_DIM = 784
Activation = Literal["relu", "tanh"]
# "paper_code": N(0, std²) weights and zero biases exactly as the paper's public code draws
# them (`paper_code_init`); "normal": the same distribution from lowcap's own stream.
InitScheme = Literal["kaiming_uniform", "normal", "paper_code"]
# The public code's grid, in its loop order: `hidden_sizes`, then its `pairs` dict.
PAPER_CODE_WIDTHS = (2, 4, 6, 8, 10, 12, 16, 24, 32, 48, 64)
PAPER_CODE_PAIRS = ((0, 1), (1, 7), (4, 9), (3, 8), (5, 6))


@dataclass(frozen=True)
class InitSpec:
    """How weights start: PyTorch's nn.Linear default, or N(0, std²) weights with zero biases
    (from lowcap's stream, or exactly as the paper's public code draws them)."""

    scheme: InitScheme = "kaiming_uniform"
    std: float = 0.1


def init_seed(seed: int, hidden: int) -> int:
    """The torch generator seed of a model: derived from its run seed and width."""
    return int(np.random.SeedSequence([seed, hidden]).generate_state(1)[0])


def init_params(hidden: int, seed: int, init: InitSpec = InitSpec(),
                input_dim: int = INPUT_DIM, pair: tuple[int, int] = (0, 1), depth: int = 1
                ) -> dict[str, torch.Tensor]:
    """Initial float64 CPU parameters {w1 [h, d], b1 [h], w2 [1, h], b2 [1]} of one model (with
    `depth` hidden layers: w2 … w<depth> [h, h] between, the readout w<depth+1>).

    `kaiming_uniform` draws exactly what nn.Linear's reset_parameters draws, in the same order,
    from a generator seeded by `init_seed(seed, hidden)` (one stream through every layer, so a
    one-hidden-layer model draws what it always drew); `paper_code` what the paper's code
    draws for the model of this `pair` (`paper_code_init`; one hidden layer only).
    """
    if depth < 1:
        raise ValueError(f"depth {depth}: a model needs at least one hidden layer")
    if init.scheme == "paper_code":
        if depth != 1:
            raise ValueError("paper_code draws exist for one hidden layer only")
        return paper_code_init(pair, hidden, seed, init.std, input_dim)
    gen = torch.Generator().manual_seed(init_seed(seed, hidden))
    params = {}
    shapes = [(input_dim, hidden)] + [(hidden, hidden)] * (depth - 1) + [(hidden, 1)]
    for name, (fan_in, fan_out) in enumerate(shapes, start=1):
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


def paper_code_init(pair: tuple[int, int], hidden: int, seed: int, std: float = 0.1,
                    input_dim: int = INPUT_DIM) -> dict[str, torch.Tensor]:
    """The float64 initial parameters the paper's public code gives one model.

    Its training script seeds NumPy's global stream once per seed, then for each width of
    `PAPER_CODE_WIDTHS` and each pair of `PAPER_CODE_PAIRS` draws w1 = randn(784, h)·std and
    w2 = randn(h, 1)·std (biases zero): a model's weights depend on every model drawn before
    it, so the seed's whole grid is replayed (once per seed, cached). A model outside that grid
    draws the same way from a stream of its own, seeded by (seed, pair, width).
    """
    if pair in PAPER_CODE_PAIRS and hidden in PAPER_CODE_WIDTHS and input_dim == INPUT_DIM:
        w1, w2 = _paper_code_grid(seed, std)[(pair, hidden)]
    else:
        own = np.random.SeedSequence([seed, *pair, hidden]).generate_state(1)[0]
        stream = np.random.RandomState(own)
        w1, w2 = stream.randn(input_dim, hidden) * std, stream.randn(hidden, 1) * std
    return {"w1": torch.from_numpy(w1.T.copy()), "b1": torch.zeros(hidden, dtype=torch.float64),
            "w2": torch.from_numpy(w2.T.copy()), "b2": torch.zeros(1, dtype=torch.float64)}


@functools.lru_cache(maxsize=4)
def _paper_code_grid(seed: int, std: float) -> dict[tuple[tuple[int, int], int],
                                                    tuple[np.ndarray, np.ndarray]]:
    stream = np.random.RandomState(seed)  # what np.random.seed(seed) makes the global stream
    return {(pair, hidden): (stream.randn(INPUT_DIM, hidden) * std, stream.randn(hidden, 1) * std)
            for hidden in PAPER_CODE_WIDTHS for pair in PAPER_CODE_PAIRS}


def layer_count(params: dict[str, torch.Tensor]) -> int:
    """How many layers {w<k>, b<k>} the parameters hold (hidden layers + the readout)."""
    return sum(1 for name in params if name.startswith("w"))


def build_mlp(params: dict[str, torch.Tensor], activation: Activation = "relu") -> nn.Sequential:
    """A plain nn.Module (Linear, activation, …, Linear) holding `params` (numbered layers, the
    last the readout); outputs logits [N, 1]."""
    modules: list[nn.Module] = []
    layers = layer_count(params)
    for k in range(1, layers + 1):
        weight = params[f"w{k}"].reshape(-1, params[f"w{k}"].shape[-1])
        # Made in the parameters' own float type: a float32 layer would round float64 ones.
        linear = nn.Linear(weight.shape[1], weight.shape[0], dtype=weight.dtype,
                           device=weight.device)
        with torch.no_grad():
            linear.weight.copy_(weight)
            linear.bias.copy_(params[f"b{k}"].reshape(-1))
        modules.append(linear)
        if k < layers:
            modules.append(nn.ReLU() if activation == "relu" else nn.Tanh())
    return nn.Sequential(*modules)
