"""Reference implementations the tests compare lowcap with (a plain nn.Module trained alone,
Captum's attributions, autograd Jacobians, an IDX writer): test-only code, kept out of the
package."""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import jacrev, vmap

from lowcap.models.mlp import Activation, build_mlp
from lowcap.training import epoch_order

Params = dict[str, torch.Tensor]
_UBYTE = 0x08


def train_reference(params, split, bank, lr, epochs, batch_size, order_seed, activation="relu",
                    budget="own", make_optimiser=None):
    """A plain nn.Module trained alone on the cohort's batch order, with torch.optim.SGD or
    `make_optimiser(model)`."""
    model = build_mlp({k: v.float() for k, v in params.items()}, activation)
    opt = (make_optimiser or (lambda m: torch.optim.SGD(m.parameters(), lr=lr)))(model)
    x, y = bank.inputs(split, "train")
    for epoch in range(epochs):
        for idx in epoch_order(len(y), order_seed, epoch, batch_size, budget):
            opt.zero_grad()
            F.binary_cross_entropy_with_logits(model(x[idx]).squeeze(1), y[idx]).backward()
            opt.step()
    return model


def rel_err(a, b):
    return ((a - b).norm() / b.norm()).item()


class _Probability(torch.nn.Module):
    """The model's sigmoid output as a 1-D tensor, the form Captum attributes."""

    def __init__(self, params: Params, activation: Activation = "relu"):
        super().__init__()
        self.mlp = build_mlp(params, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.mlp(x)).squeeze(-1)


def captum_integrated_gradients(params: Params, x: torch.Tensor,
                                activation: Activation = "relu", steps: int = 50
                                ) -> torch.Tensor:
    """Captum's IntegratedGradients of the sigmoid output, black baseline: the reference for
    `integrated_gradients`."""
    from captum.attr import IntegratedGradients

    return IntegratedGradients(_Probability(params, activation)).attribute(
        x, baselines=torch.zeros_like(x), n_steps=steps).detach()


def captum_saliency(params: Params, x: torch.Tensor, activation: Activation = "relu"
                    ) -> torch.Tensor:
    """Captum's Saliency (|gradient|) of the sigmoid output: the reference for `gradient`."""
    from captum.attr import Saliency

    return Saliency(_Probability(params, activation)).attribute(x.clone().requires_grad_(True),
                                                    abs=True).detach()


def jacobian_norm_autograd(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """‖∂p/∂x‖_F for every row of x, for any model, via vmap(jacrev): p is the sigmoid of a
    single output, the softmax of several (the reference for lowcap's closed-form norms)."""
    def probs(v: torch.Tensor) -> torch.Tensor:
        out = model(v.unsqueeze(0)).squeeze(0)
        return torch.sigmoid(out) if out.numel() == 1 else torch.softmax(out, dim=-1)

    jac = vmap(jacrev(probs))(x)  # [N, outputs, 784]
    return jac.reshape(x.shape[0], -1).norm(dim=1)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzip-compressed when the name ends in .gz)."""
    data = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, _UBYTE, data.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in data.shape
    )
    # Level 1: the default level 9 takes 13 s for the training images; any level is valid gzip.
    opener = functools.partial(gzip.open, compresslevel=1) if path.suffix == ".gz" else open
    with opener(path, "wb") as handle:
        handle.write(header + data.tobytes())
