"""A LeNet-like CNN with a width knob, trained many at a time with `torch.func`.

    1×28×28 → conv 5×5, c channels → ReLU → max-pool 2 → conv 5×5, 2c channels → ReLU →
    max-pool 2 → linear (2c·4·4 → 1)

Its parameters: 26c (first conv) + 50c² + 2c (second) + 32c + 1 (readout): 111 at c = 1,
13,761 at c = 16 — the range of the 784 → h → 1 MLPs from h = 1 to h = 17. Models of one width
are trained as one program: their convolutions grouped by model (each model's images are its
own input channel), their readouts one batched product; the gradients are autograd's.
"""

from __future__ import annotations

import torch
from torch import nn

Params = dict[str, torch.Tensor]


class LeNet(nn.Module):
    """The CNN of one width (c channels in the first convolution, 2c in the second)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 5)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 5)
        self.readout = nn.Linear(2 * channels * 16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [N] for flattened images x [N, 784]."""
        z = nn.functional.max_pool2d(torch.relu(self.conv1(x.view(-1, 1, 28, 28))), 2)
        z = nn.functional.max_pool2d(torch.relu(self.conv2(z)), 2)
        return self.readout(z.flatten(1)).squeeze(-1)


def parameter_count(channels: int) -> int:
    """Weights and biases of the CNN with `channels` first-layer channels."""
    return 26 * channels + 50 * channels**2 + 2 * channels + 32 * channels + 1


def mlp_parameter_count(hidden: int, depth: int = 1) -> int:
    """Weights and biases of a 784 → hidden (→ hidden …, `depth` hidden layers) → 1 MLP (for
    the side-by-side curve)."""
    return 785 * hidden + (depth - 1) * (hidden + 1) * hidden + hidden + 1


def initial_stack(channels: int, seeds: list[int], device: torch.device | str = "cpu"
                  ) -> Params:
    """PyTorch's default initialisation of one CNN per seed (`torch.manual_seed(seed)`), as
    one set of grouped-convolution parameters: model m owns channels m·c … (m+1)·c − 1."""
    models = []
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            models.append(LeNet(channels))
    return _stacked(models, device)


def _stacked(models: list[LeNet], device: torch.device | str) -> Params:
    parts = {"w1": [m.conv1.weight for m in models], "b1": [m.conv1.bias for m in models],
             "w2": [m.conv2.weight for m in models], "b2": [m.conv2.bias for m in models],
             "w3": [m.readout.weight for m in models], "b3": [m.readout.bias for m in models]}
    return {k: torch.cat(v).detach().to(device) for k, v in parts.items()}


def stack_logits(params: Params, x: torch.Tensor) -> torch.Tensor:
    """Logits [N, models] of every model on its own images x [N, models, 784]: both
    convolutions grouped by model, the readout one batched product."""
    n, models = x.shape[:2]
    z = nn.functional.conv2d(x.view(n, models, 28, 28), params["w1"], params["b1"],
                             groups=models)
    z = nn.functional.max_pool2d(torch.relu(z), 2)
    z = nn.functional.conv2d(z, params["w2"], params["b2"], groups=models)
    z = nn.functional.max_pool2d(torch.relu(z), 2).reshape(n, models, -1)
    return torch.einsum("nmk,mk->nm", z, params["w3"]) + params["b3"]


def sgd_step(params: Params, x: torch.Tensor, y: torch.Tensor, lr: float) -> Params:
    """One SGD step of every model on its own batch (x [B, models, 784], y [B, models]) of
    its mean binary cross-entropy: the models share no parameter, so the sum of their losses
    gives each its own gradient."""
    leaves = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    loss = nn.functional.binary_cross_entropy_with_logits(
        stack_logits(leaves, x), y, reduction="none").mean(0).sum()
    grads = torch.autograd.grad(loss, list(leaves.values()))
    return {k: (v - lr * g).detach() for (k, v), g in zip(leaves.items(), grads, strict=True)}


@torch.no_grad()
def logits(params: Params, x: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """`stack_logits` in chunks of images, without gradients."""
    return torch.cat([stack_logits(params, x[i:i + chunk]) for i in range(0, len(x), chunk)])
