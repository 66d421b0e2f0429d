"""Projected gradient descent on the inputs (Madry et al. 2018): the worst inputs within an
ε-ball around each image, found by steps on the loss, for training on them (a protocol's
`pgd_*` fields, `Cohort.step`) and for attacks on trained models.

The steps are those of Foolbox 3: an ℓ∞ step moves every pixel by `step_size` along the
sign of its gradient, an ℓ2 step moves the image by `step_size` along the gradient's
direction; the result is projected back onto the ε-ball around the clean image, then clipped
to the pixel range [0, 1]. A binary model's loss is the binary cross-entropy of its logit,
the cross-entropy of the two-class logits (0, f) that attack libraries use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F

from lowcap.ops import finite_or_zero

if TYPE_CHECKING:
    from lowcap.models.cohort import Cohort

Norm = Literal["linf", "l2"]


@dataclass(frozen=True)
class PGDSpec:
    """The inner maximisation of training on worst-case inputs: `steps` steps of
    `step_size` within the `norm` ball of radius `eps`, from the clean image."""

    norm: Norm
    eps: float
    steps: int
    step_size: float


def project_step(adv: torch.Tensor, x0: torch.Tensor, grad: torch.Tensor, norm: str,
                 eps: float, step_size: float) -> torch.Tensor:
    """One step from `adv` along `grad` (both [..., d]), projected onto the ε-ball around x0
    and clipped to [0, 1]."""
    if norm == "linf":
        adv = adv + step_size * grad.sign()
        delta = (adv - x0).clamp(-eps, eps)
    else:
        adv = adv + step_size * grad / grad.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        delta = adv - x0
        delta = delta * (eps / delta.norm(dim=-1, keepdim=True).clamp_min(1e-12)).clamp(max=1)
    return (x0 + delta).clamp(0, 1)


def loss_gradient(logits_of: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                  y: torch.Tensor) -> torch.Tensor:
    """∂/∂x of the summed binary cross-entropy of `logits_of(x)` (shaped like y) against
    labels y: each sample's own gradient, whatever else shares the batch."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = logits_of(x)
        loss = F.binary_cross_entropy_with_logits(logits, y.expand_as(logits).to(logits.dtype),
                                                  reduction="sum")
        (grad,) = torch.autograd.grad(loss, x)
    return grad


def worst_inputs(gradient: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                 spec: PGDSpec) -> torch.Tensor:
    """x moved by `spec.steps` projected steps along `gradient(inputs)` (the loss's, shaped
    like x). A non-finite gradient (a diverged model's) moves nothing."""
    adv = x
    for _ in range(spec.steps):
        adv = project_step(adv, x, finite_or_zero(gradient(adv)), spec.norm, spec.eps,
                           spec.step_size)
    return adv


@torch.no_grad()
def lanes_worst_inputs(cohort: Cohort, x: torch.Tensor | list[torch.Tensor], y: torch.Tensor
                       ) -> torch.Tensor | list[torch.Tensor]:
    """Each lane's inputs x [G, B, d] (or each of their pieces along B) moved by the cohort's
    PGD on the loss of the lane's one model, labels y [G, B]."""
    assert cohort.pgd is not None
    pieces = [x] if isinstance(x, torch.Tensor) else x
    moved, start = [], 0
    for piece in pieces:
        labels = y[:, start:start + piece.shape[1]]
        moved.append(worst_inputs(lambda inputs, labels=labels: lane_input_gradient(
            cohort, inputs, labels), piece, cohort.pgd))
        start += piece.shape[1]
    return moved[0] if isinstance(x, torch.Tensor) else moved


def lane_input_gradient(cohort: Cohort, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∂/∂x [G, B, d] of each lane's one model's summed BCE against labels y [G, B]: the
    backward pass of `lowcap.models.step` taken down to the inputs (one model per lane, so the
    readout is a plain product)."""
    layers = cohort.hidden_layers(x)
    h = layers[-1]
    logits = torch.baddbmm(cohort.b_out[:, :1].unsqueeze(1), h, cohort.w_out.unsqueeze(-1))
    d_logits = torch.sigmoid(logits) - y.unsqueeze(-1)  # [G, B, 1]
    d_z = cohort.backprop_act(d_logits * cohort.w_out.unsqueeze(1), h)
    for k in range(cohort.depth - 2, -1, -1):
        d_z = cohort.backprop_act(torch.bmm(d_z, cohort.deep_w[k]), layers[k])
    return torch.bmm(d_z, cohort.w1)
