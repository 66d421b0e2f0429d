"""FGSM and PGD (ℓ∞ and ℓ2) for many models at once: the models of a lane, zero-padded to
one shape, each attacked with its own gradients on its own copy of the images.

A binary model's loss is the binary cross-entropy of its logit, which is the cross-entropy of
the two-class logits (0, f) that attack libraries use; every model's images move only by the
gradient of its own loss. The steps are `lowcap.models.pgd`'s (Foolbox 3's), of size
rel_step·ε."""

from __future__ import annotations

import torch

from lowcap.models.mlp import Activation, layer_count
from lowcap.models.pgd import loss_gradient, project_step

Params = dict[str, torch.Tensor]
NORMS = {"fgsm": "linf", "pgd_linf": "linf", "pgd_l2": "l2"}


def stack_models(models: list[Params]) -> Params:
    """The models' parameters stacked [M, ...], each tensor zero-padded to the largest shape:
    a padded unit has no weights in or out, so every model computes what it computes alone."""
    stacked = {}
    for name in models[0]:
        shapes = [m[name].shape for m in models]
        size = [max(s[d] for s in shapes) for d in range(len(shapes[0]))]
        out = models[0][name].new_zeros((len(models), *size))
        for i, m in enumerate(models):
            out[(i, *(slice(0, n) for n in m[name].shape))] = m[name]
        stacked[name] = out
    return stacked


def stacked_logits(stack: Params, x: torch.Tensor, activation: Activation) -> torch.Tensor:
    """Logits [M, N] of M stacked models on their own inputs x [M, N, d]."""
    act = torch.relu if activation == "relu" else torch.tanh
    last = layer_count(stack)
    h = x
    for k in range(1, last):
        h = act(torch.baddbmm(stack[f"b{k}"].unsqueeze(1), h, stack[f"w{k}"].transpose(1, 2)))
    readout = stack[f"w{last}"].reshape(len(h), -1, 1)
    return torch.bmm(h, readout).squeeze(-1) + stack[f"b{last}"].reshape(-1, 1)


def logit_gradient_norms(stack: Params, x: torch.Tensor, activation: Activation
                         ) -> torch.Tensor:
    """‖∂f/∂x‖ [M, N] of each model's logit at its inputs x [M, N, d]: its local Lipschitz
    constant there (the largest over test images bounds the model's Lipschitz constant from
    below)."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(stacked_logits(stack, x, activation).sum(), x)
    return grad.norm(dim=-1)


def random_start(x0: torch.Tensor, eps: float, norm: str, generator: torch.Generator
                 ) -> torch.Tensor:
    """A uniformly random point of each image's ε-ball (ℓ∞: per pixel; ℓ2: Voelker et al.'s
    sampling of the n-ball), clipped to [0, 1]."""
    if norm == "linf":
        noise = torch.rand(x0.shape, generator=generator, dtype=x0.dtype) * 2 - 1
        return (x0 + eps * noise.to(x0.device)).clamp(0, 1)
    d = x0.shape[-1]
    sphere = torch.randn((*x0.shape[:-1], d + 2), generator=generator, dtype=x0.dtype)
    sphere = sphere / sphere.norm(dim=-1, keepdim=True)
    return (x0 + eps * sphere[..., :d].to(x0.device)).clamp(0, 1)


def attack(stack: Params, x: torch.Tensor, y: torch.Tensor, activation: Activation,
           norm: str, eps: float, steps: int, rel_step: float,
           start: torch.Tensor | None = None) -> torch.Tensor:
    """Adversarial images [M, N, d] for M stacked models from clean images x [N, d] with
    labels y [N]: `steps` steps of size rel_step·ε from `start` (None: the clean images).
    FGSM is norm 'linf', one step, rel_step 1, no start."""
    x0 = x.expand(len(stack["w1"]), *x.shape)
    adv = x0 if start is None else start
    for _ in range(steps):
        grad = loss_gradient(lambda inputs: stacked_logits(stack, inputs, activation), adv, y)
        adv = project_step(adv, x0, grad, norm, eps, rel_step * eps)
    return adv.detach()
