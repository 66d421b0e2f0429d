"""Training a cohort with SGD (mini-batch) or GD (full batch), all models in one tensor program.

Gradients are written out by hand for the two-layer MLP with binary cross-entropy on logits:
each step is one batched gather of inputs, one `baddbmm` forward, and one `bmm` for the
first-layer gradient, whatever the number of models. `tests/test_cohort.py` checks every model's
trajectory against independent training of a plain nn.Module with torch.optim.SGD.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from lowcap.data.bank import ImageBank
from lowcap.models.cohort import Cohort
from lowcap.training.batches import epoch_order
from lowcap.training.metrics import classification_metrics

METRIC_NAMES = ("train_loss", "train_f1", "train_auc", "val_loss", "val_f1", "val_auc",
                "test_loss", "test_f1", "test_auc")


@dataclass
class EpochResult:
    """Metrics after one epoch, each an array [lanes, max_models] (NaN for padding/diverged)."""

    epoch: int
    metrics: dict[str, np.ndarray]
    diverged: np.ndarray  # bool [lanes, max_models], cumulative


EpochCallback = Callable[[Cohort, EpochResult], None]


def _epoch_batches(cohort: Cohort, bank: ImageBank, epoch: int, batch_size: int | None):
    """Index, label and weight tensors [G, steps, B] of one epoch (padding has weight 0)."""
    per_lane = []
    for lane in cohort.lanes:
        n = len(lane.split.train_idx)
        order = epoch_order(n, lane.order_seed, epoch, batch_size)
        per_lane.append((np.concatenate(order), len(order)))
    width = batch_size or max(len(lane.split.train_idx) for lane in cohort.lanes)
    steps = max(count for _, count in per_lane)
    rows = np.full((cohort.n_lanes, steps * width), bank.pad_row, dtype=np.int64)
    labels = np.zeros((cohort.n_lanes, steps * width), dtype=np.float32)
    weights = np.zeros((cohort.n_lanes, steps * width), dtype=np.float32)
    for g, (lane, (order, _)) in enumerate(zip(cohort.lanes, per_lane, strict=True)):
        rows[g, : len(order)] = bank.rows(lane.split, "train")[order]
        labels[g, : len(order)] = lane.split.train_y[order]
        weights[g, : len(order)] = 1.0
    shape = (cohort.n_lanes, steps, width)
    to = {"device": bank.device}
    return (torch.from_numpy(rows.reshape(shape)).to(**to),
            torch.from_numpy(labels.reshape(shape)).to(**to, dtype=bank.images.dtype),
            torch.from_numpy(weights.reshape(shape)).to(**to, dtype=bank.images.dtype))


@torch.no_grad()
def sgd_step(cohort: Cohort, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor
             ) -> torch.Tensor:
    """One SGD update of every model on its lane's batch; returns the summed loss [G, M].

    x [G, B, 784], y and weight [G, B]; each model minimises the weighted mean BCE of its batch.
    """
    z = cohort.hidden_pre(x)
    h = cohort.act(z)
    logits = cohort.readout(h)
    target = y.unsqueeze(-1).expand_as(logits)
    losses = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    loss_sum = (losses * weight.unsqueeze(-1)).sum(1)
    count = weight.sum(1, keepdim=True).clamp_min(1.0)
    d_logits = (torch.sigmoid(logits) - target) * (weight / count).unsqueeze(-1)
    g, b, _ = x.shape
    padded = F.pad(d_logits, (0, 1))
    d_units = padded.gather(2, cohort.unit_model.unsqueeze(1).expand(g, b, -1))
    grad_b2 = d_logits.sum(1)
    grad_w2 = (d_units * h).sum(1)
    d_z = d_units * cohort.w2.unsqueeze(1) * cohort.act_grad(z, h)
    grad_b1 = d_z.sum(1)
    # w1 -= lr * d_zᵀ x, with the per-unit learning rate folded into d_z so that the update is
    # fused into the GEMM (w1 is the largest tensor; a separate pass over it costs as much).
    cohort.w1.baddbmm_((d_z * cohort.unit_lr.unsqueeze(1)).transpose(1, 2), x, alpha=-1.0)
    cohort.b1.sub_(cohort.unit_lr * grad_b1)
    cohort.w2.sub_(cohort.unit_lr * grad_w2)
    cohort.b2.sub_(cohort.model_lr * grad_b2)
    return loss_sum


@torch.no_grad()
def evaluate(cohort: Cohort, bank: ImageBank, part: str) -> dict[str, torch.Tensor]:
    """{'loss', 'f1', 'auc'} [G, M] of every model on its lane's `part` split."""
    out = {k: torch.full((cohort.n_lanes, cohort.max_models), float("nan"),
                         dtype=torch.float64) for k in ("loss", "f1", "auc")}
    for g, lane in enumerate(cohort.lanes):
        x, y = bank.inputs(lane.split, part)
        n_models = len(lane.models)
        values = classification_metrics(cohort.lane_logits(g, x)[:, :n_models].T, y)
        for key, value in values.items():
            out[key][g, :n_models] = value.double().cpu()
    return out


@torch.no_grad()
def _diverged_models(cohort: Cohort, train_loss: torch.Tensor) -> torch.Tensor:
    unit_ok = (torch.isfinite(cohort.w1).all(-1) & torch.isfinite(cohort.b1)
               & torch.isfinite(cohort.w2))
    bad = torch.zeros(cohort.n_lanes, cohort.max_models + 1, device=cohort.device)
    bad.scatter_add_(1, cohort.unit_model, (~unit_ok).float())
    diverged = (bad[:, :-1] > 0) | ~torch.isfinite(cohort.b2) | ~torch.isfinite(train_loss)
    return diverged & cohort.model_mask


@torch.no_grad()
def _freeze(cohort: Cohort, models: torch.Tensor) -> None:
    """Stop updating the given models (their learning rate becomes 0)."""
    cohort.model_lr[models] = 0.0
    unit_frozen = F.pad(models, (0, 1)).gather(1, cohort.unit_model)
    cohort.unit_lr[unit_frozen] = 0.0


def train_cohort(
    cohort: Cohort,
    bank: ImageBank,
    epochs: int,
    batch_size: int | None,
    start_epoch: int = 0,
    eval_train: bool = False,
    on_epoch: EpochCallback | None = None,
    diverged: np.ndarray | None = None,
) -> None:
    """Train epochs `start_epoch`..`epochs-1`, calling `on_epoch` after each.

    `batch_size=None` is full-batch gradient descent. `eval_train` measures train metrics exactly
    at the end of each epoch; otherwise train loss is the mean of the epoch's mini-batch losses
    (before each update) and train F1/AUC are NaN. Models that diverge (non-finite loss or
    weights) are frozen and reported with NaN metrics; the rest train on unaffected.
    """
    done = torch.zeros(cohort.n_lanes, cohort.max_models, dtype=torch.bool,
                       device=cohort.device)
    if diverged is not None:
        done |= torch.from_numpy(diverged).to(cohort.device)
        _freeze(cohort, done)
    sizes = torch.tensor([len(lane.split.train_idx) for lane in cohort.lanes],
                         dtype=torch.float64, device=cohort.device).unsqueeze(1)
    for epoch in range(start_epoch, epochs):
        rows, labels, weights = _epoch_batches(cohort, bank, epoch, batch_size)
        loss_sum = torch.zeros(cohort.n_lanes, cohort.max_models, dtype=torch.float64,
                               device=cohort.device)
        for step in range(rows.shape[1]):
            x = bank.images[rows[:, step]]
            loss_sum += sgd_step(cohort, x, labels[:, step], weights[:, step]).double()
        running_loss = loss_sum / sizes
        done |= _diverged_models(cohort, running_loss)
        _freeze(cohort, done)
        metrics: dict[str, torch.Tensor] = {}
        for part in ("train", "val", "test") if eval_train else ("val", "test"):
            for key, value in evaluate(cohort, bank, part).items():
                metrics[f"{part}_{key}"] = value
        if not eval_train:
            metrics["train_loss"] = running_loss.cpu()
            metrics["train_f1"] = torch.full_like(metrics["val_f1"], float("nan"))
            metrics["train_auc"] = torch.full_like(metrics["val_f1"], float("nan"))
        invalid = (done | ~cohort.model_mask).cpu()
        arrays = {k: np.where(invalid.numpy(), np.nan, metrics[k].double().numpy())
                  for k in METRIC_NAMES}
        if on_epoch is not None:
            on_epoch(cohort, EpochResult(epoch, arrays, done.cpu().numpy().copy()))
