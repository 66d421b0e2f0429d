"""One update of every model of a cohort: forward, hand-written backward, and the parameter
update (`Cohort.step` calls `update`; `Cohort.freeze` and `Cohort.diverged` are below too).

Gradients are written out for the cohort's MLPs (one to three hidden layers) with binary
cross-entropy on logits: a step is one batched matrix product per layer forward and one or two
per layer backward, whatever the number of models. `tests/models/test_cohort.py` checks each
model's trajectory against independent training of a plain nn.Module with torch.optim.SGD.

How the learning rate is applied. Plain SGD (the paper's) takes the fused path: w1 is updated
inside its gradient GEMM (`baddbmm` with the per-unit learning rate folded into the backward
signal), so the largest tensor is read and written once per step; b1 and the hidden layers'
gradients carry the same folding; the readout's (`w_out`, `b_out`) are scaled afterwards, because
the folding happens below them. Any other optimiser (momentum, Adam, weight decay) takes raw
gradients and its own update rule (`lowcap.models.optimisers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from lowcap.ops import finite_or_zero

if TYPE_CHECKING:
    from lowcap.models.cohort import Cohort

# Samples per backward chunk: a larger (full) batch is processed in chunks of this many.
CHUNK = 1024


def _backward_chunk(cohort: Cohort, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor,
                    count: torch.Tensor, w1_target: torch.Tensor, alpha: float,
                    unit_lr: torch.Tensor | None):
    """Forward and backward of one chunk; adds alpha · lr · ∂L/∂w1 into `w1_target` and returns
    (logits [G, B, M], the other gradients by `Cohort.parameters` name): b1's and the hidden
    layers' lr-scaled, like w1's (`unit_lr` None: unscaled), the readout's unscaled."""
    layers = cohort.hidden_layers(x)
    h = layers[-1]
    logits = cohort.readout(h)
    target = y.unsqueeze(-1).expand_as(logits)
    d_logits = (torch.sigmoid(logits) - target) * (weight / count).unsqueeze(-1)
    # ∂L/∂w_out[j] is entry (j, model(j)) of the small product hᵀ · ∂L/∂logits (a gather picks
    # it, so a diverged model's NaN stays in its own column).
    d_padded = F.pad(d_logits, (0, 1))
    grad_w_out = torch.bmm(h.transpose(1, 2), d_padded).gather(
        2, cohort.unit_model.unsqueeze(-1)).squeeze(-1)
    scale = cohort.w_out if unit_lr is None else cohort.w_out * unit_lr
    d_z = cohort.backprop_act(cohort.spread(d_padded, scale), h)
    w_out, b_out = cohort.readout_names
    grads = {w_out: grad_w_out, b_out: d_logits.sum(1)}
    # Hidden-to-hidden layers (layer k + 2 reads layer k + 1), last first; a weight off its
    # model's block gets no gradient.
    for k in range(cohort.depth - 2, -1, -1):
        below = layers[k]
        grads[f"w{k + 2}"] = torch.where(
            cohort.block, torch.bmm(d_z.transpose(1, 2), finite_or_zero(below)), 0.0)
        grads[f"b{k + 2}"] = d_z.sum(1)
        d_z = cohort.backprop_act(torch.bmm(finite_or_zero(d_z), cohort.deep_w[k]), below)
    w1_target.baddbmm_(d_z.transpose(1, 2), x, alpha=alpha)
    grads["b1"] = d_z.sum(1)
    return logits, grads


def _gradients(cohort: Cohort, x: list[torch.Tensor], y: torch.Tensor, weight: torch.Tensor,
               count: torch.Tensor, unit_lr: torch.Tensor | None
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Logits and the gradients of every parameter accumulated over the batch's pieces (all
    but the readout's scaled by `unit_lr` unless it is None)."""
    grad_w1 = torch.zeros_like(cohort.w1)
    chunks, parts, start = [], [], 0
    for piece in x:
        stop = start + piece.shape[1]
        logits, part = _backward_chunk(cohort, piece, y[:, start:stop], weight[:, start:stop],
                                       count, grad_w1, 1.0, unit_lr)
        chunks.append(logits)
        parts.append(part)
        start = stop
    grads = {name: torch.stack([part[name] for part in parts]).sum(0) for name in parts[0]}
    return torch.cat(chunks, dim=1), {"w1": grad_w1, **grads}


@torch.no_grad()
def update(cohort: Cohort, x: torch.Tensor | list[torch.Tensor], y: torch.Tensor,
           weight: torch.Tensor, chunk: int = CHUNK) -> torch.Tensor:
    """One update of every model on its lane's batch; returns the pre-update logits.

    x [G, B, d] (or its consecutive pieces along B), y and weight [G, B]; each model minimises
    the weighted mean BCE of its batch. A batch of at most `chunk` samples updates w1 inside its
    gradient GEMM, so the largest tensor is touched once. Larger (full) batches are processed
    in chunks with the gradient accumulated first: big temporaries cost more in page faults
    than in arithmetic on a CPU. Passing the chunks as separate contiguous tensors saves a copy
    per GEMM (oneDNN copies a slice first). Masked weights stay 0.
    """
    if isinstance(x, torch.Tensor):
        x = [x[:, i:i + chunk] for i in range(0, x.shape[1], chunk)]
    count = weight.sum(1, keepdim=True).clamp_min(1.0)
    if cohort.optimiser is not None:  # raw gradients, then each model's own optimiser
        logits, grads = _gradients(cohort, x, y, weight, count, None)
        held = (weight.sum(1, keepdim=True) > 0).to(weight.dtype)  # a spent budget: a no-op
        cohort.optimiser.update(cohort.parameters(), grads, cohort.model_lr, held)
        cohort.apply_masks_()
        return logits
    if len(x) == 1:
        logits, grads = _backward_chunk(cohort, x[0], y, weight, count, cohort.w1, -1.0,
                                        cohort.unit_lr)
    else:
        logits, grads = _gradients(cohort, x, y, weight, count, cohort.unit_lr)
        cohort.w1.sub_(grads.pop("w1"))
    params = cohort.parameters()
    w_out, b_out = cohort.readout_names
    for name, grad in grads.items():  # lr-scaled already, but for the readout's
        if name == w_out:
            grad = cohort.unit_lr * grad
        elif name == b_out:
            grad = cohort.model_lr * grad
        params[name].sub_(grad)
    cohort.apply_masks_()
    return logits


@torch.no_grad()
def diverged_models(cohort: Cohort, train_loss: torch.Tensor) -> torch.Tensor:
    """[G, M] bool: the real models with a non-finite weight or training loss."""
    unit_ok = (torch.isfinite(cohort.w1).all(-1) & torch.isfinite(cohort.b1)
               & torch.isfinite(cohort.w_out))
    for w, b in zip(cohort.deep_w, cohort.deep_b, strict=True):
        unit_ok &= torch.isfinite(w).all(-1) & torch.isfinite(b)
    bad = torch.zeros(cohort.n_lanes, cohort.max_models + 1, device=cohort.device)
    bad.scatter_add_(1, cohort.unit_model, (~unit_ok).float())
    diverged = (bad[:, :-1] > 0) | ~torch.isfinite(cohort.b_out) | ~torch.isfinite(train_loss)
    return diverged & cohort.model_mask


@torch.no_grad()
def freeze(cohort: Cohort, models: torch.Tensor) -> None:
    """Stop updating the given models [G, M] (their learning rate becomes 0)."""
    cohort.model_lr.masked_fill_(models, 0.0)
    unit_frozen = F.pad(models, (0, 1)).gather(1, cohort.unit_model)
    cohort.unit_lr.masked_fill_(unit_frozen, 0.0)
