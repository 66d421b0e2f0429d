"""Training a cohort with SGD (mini-batch) or GD (full batch), all models in one tensor program.

Gradients are written out by hand for the cohort's MLPs (one to three hidden layers) with binary
cross-entropy on logits: each step is one batched gather of inputs, one batched matrix product
per layer forward and one or two per layer backward, whatever the number of models.
`tests/test_cohort.py` checks every model's trajectory against independent training of a plain
nn.Module with torch.optim.SGD.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from lowcap.data.bank import ImageBank
from lowcap.models.cohort import Cohort, finite_or_zero
from lowcap.training.augment import augment, draws, thetas
from lowcap.training.batches import Budget, epoch_order
from lowcap.training.evaluation import EvalSet
from lowcap.training.graphs import StepGraphs
from lowcap.training.metrics import LabelLayout, cohort_metrics

METRIC_NAMES = ("train_loss", "train_f1", "train_auc", "val_loss", "val_f1", "val_auc",
                "test_loss", "test_f1", "test_auc")


@dataclass
class EpochResult:
    """Metrics after one epoch, each an array [lanes, max_models] (NaN for padding/diverged)."""

    epoch: int
    metrics: dict[str, np.ndarray]
    diverged: np.ndarray  # bool [lanes, max_models], cumulative


EpochCallback = Callable[[Cohort, EpochResult], None]


@dataclass
class EpochBatches:
    """One epoch's batches of every lane as tensors [G, steps, B] (padding has weight 0), each
    lane's number of updates, and the layout of the samples whose pre-update predictions give
    the train metrics (every batch; full batch: its one batch)."""

    rows: torch.Tensor
    labels: torch.Tensor
    weights: torch.Tensor
    lane_updates: list[int]
    seen: LabelLayout
    # Where some lane augments: the affine matrices of every image [G, steps, B, 2, 3] and
    # which lanes use them [G, 1, 1] (the others' images pass unchanged).
    thetas: torch.Tensor | None = None
    augmented: torch.Tensor | None = None

    def inputs(self, x: torch.Tensor, step: int, start: int = 0) -> torch.Tensor:
        """A step's gathered images x [G, B, 784] (from position `start` of the batch), after
        augmentation in the lanes that augment."""
        if self.thetas is None:
            return x
        theta = self.thetas[:, step, start:start + x.shape[1]]
        return torch.where(self.augmented, augment(x, theta), x)

    def update_masks(self) -> torch.Tensor:
        """[updates, G, 1]: 1 where a lane's budget holds that update, else 0 (a lane whose
        budget is spent takes zero-weight, no-op steps). Made once per epoch, so that the
        steps read it without a host-to-device copy."""
        steps = np.arange(max(self.lane_updates))[:, None, None]
        held = steps < np.array(self.lane_updates)[None, :, None]
        return torch.from_numpy(held).to(self.weights.device, self.weights.dtype)


def _epoch_batches(cohort: Cohort, bank: ImageBank, epoch: int, batch_size: int | None,
                   budget: Budget = "own") -> EpochBatches:
    """One epoch's batches. Full batch holds its one batch once (steps = 1) however many
    times the budget repeats it."""
    per_lane = []
    for lane in cohort.lanes:
        order = epoch_order(len(lane.split.train_idx), lane.order_seed, epoch, batch_size,
                            budget)
        per_lane.append((order[:1] if batch_size is None else order, len(order)))
    width = batch_size or max(len(lane.split.train_idx) for lane in cohort.lanes)
    steps = max(len(batches) for batches, _ in per_lane)
    rows = np.full((cohort.n_lanes, steps, width), bank.pad_row, dtype=np.int64)
    labels = np.zeros((cohort.n_lanes, steps, width), dtype=np.float32)
    weights = np.zeros((cohort.n_lanes, steps, width), dtype=np.float32)
    for g, (lane, (batches, _)) in enumerate(zip(cohort.lanes, per_lane, strict=True)):
        train_rows = bank.rows(lane.split, "train")
        for step, batch in enumerate(batches):  # a pass's last batch may be short
            rows[g, step, : len(batch)] = train_rows[batch]
            labels[g, step, : len(batch)] = lane.split.train_y[batch]
            weights[g, step, : len(batch)] = 1.0
    to = {"device": bank.device}
    dtype = bank.images.dtype
    seen = LabelLayout.of(labels.reshape(cohort.n_lanes, -1),
                          weights.reshape(cohort.n_lanes, -1) > 0, bank.device, dtype)
    batches = EpochBatches(torch.from_numpy(rows).to(**to),
                           torch.from_numpy(labels).to(**to, dtype=dtype),
                           torch.from_numpy(weights).to(**to, dtype=dtype),
                           [updates for _, updates in per_lane], seen)
    if any(lane.augment for lane in cohort.lanes):
        params = np.stack([draws(lane.order_seed, epoch, (steps, width))
                           for lane in cohort.lanes])
        batches.thetas = thetas(torch.from_numpy(params).to(**to, dtype=dtype))
        batches.augmented = torch.tensor([lane.augment for lane in cohort.lanes],
                                         device=bank.device).reshape(-1, 1, 1)
    return batches


CHUNK = 1024


def _backward_chunk(cohort: Cohort, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor,
                    count: torch.Tensor, w1_target: torch.Tensor, alpha: float,
                    unit_lr: torch.Tensor | None):
    """Forward and backward of one chunk; adds alpha · lr · ∂L/∂w1 into `w1_target` and returns
    (logits [G, B, M], the other gradients {b1, w2, b2, hw<k>, hb<k>}): b1's and the hidden
    layers' lr-scaled, like w1's (`unit_lr` None: unscaled), w2's and b2's unscaled."""
    layers = cohort.hidden_layers(x)
    h = layers[-1]
    logits = cohort.readout(h)
    target = y.unsqueeze(-1).expand_as(logits)
    d_logits = (torch.sigmoid(logits) - target) * (weight / count).unsqueeze(-1)
    # ∂L/∂w2[j] is entry (j, model(j)) of the small product hᵀ · ∂L/∂logits (a gather picks it,
    # so a diverged model's NaN stays in its own column).
    d_padded = F.pad(d_logits, (0, 1))
    grad_w2 = torch.bmm(h.transpose(1, 2), d_padded).gather(
        2, cohort.unit_model.unsqueeze(-1)).squeeze(-1)
    scale = cohort.w2 if unit_lr is None else cohort.w2 * unit_lr
    d_z = cohort.backprop_act(cohort.spread(d_padded, scale), h)
    grads = {"w2": grad_w2, "b2": d_logits.sum(1)}
    # Hidden-to-hidden layers, last first; a weight off its model's block gets no gradient.
    for k in range(cohort.depth - 2, -1, -1):
        below = layers[k]
        grads[f"hw{k}"] = torch.where(
            cohort.block, torch.bmm(d_z.transpose(1, 2), finite_or_zero(below)), 0.0)
        grads[f"hb{k}"] = d_z.sum(1)
        d_z = cohort.backprop_act(torch.bmm(finite_or_zero(d_z), cohort.deep_w[k]), below)
    w1_target.baddbmm_(d_z.transpose(1, 2), x, alpha=alpha)
    grads["b1"] = d_z.sum(1)
    return logits, grads


@torch.no_grad()
def sgd_step(cohort: Cohort, x: torch.Tensor | list[torch.Tensor], y: torch.Tensor,
             weight: torch.Tensor, chunk: int = CHUNK) -> torch.Tensor:
    """One SGD update of every model on its lane's batch; returns the pre-update logits.

    x [G, B, 784] (or its consecutive pieces along B), y and weight [G, B]; each model minimises
    the weighted mean BCE of its batch. A batch of at most `chunk` samples updates w1 inside its
    gradient GEMM (the per-unit learning rate folded in), so the largest tensor is touched once.
    Larger (full) batches are processed in chunks with the gradient accumulated first: big
    temporaries cost more in page faults than in arithmetic on a CPU. Passing the chunks as
    separate contiguous tensors saves a copy per GEMM (oneDNN copies a slice first).
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
    for name, grad in grads.items():  # lr-scaled already, but for the readout's
        if name == "w2":
            grad = cohort.unit_lr * grad
        elif name == "b2":
            grad = cohort.model_lr * grad
        params[name].sub_(grad)
    cohort.apply_masks_()
    return logits


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
def _diverged_models(cohort: Cohort, train_loss: torch.Tensor) -> torch.Tensor:
    unit_ok = (torch.isfinite(cohort.w1).all(-1) & torch.isfinite(cohort.b1)
               & torch.isfinite(cohort.w2))
    for w, b in zip(cohort.deep_w, cohort.deep_b, strict=True):
        unit_ok &= torch.isfinite(w).all(-1) & torch.isfinite(b)
    bad = torch.zeros(cohort.n_lanes, cohort.max_models + 1, device=cohort.device)
    bad.scatter_add_(1, cohort.unit_model, (~unit_ok).float())
    diverged = (bad[:, :-1] > 0) | ~torch.isfinite(cohort.b2) | ~torch.isfinite(train_loss)
    return diverged & cohort.model_mask


@torch.no_grad()
def _freeze(cohort: Cohort, models: torch.Tensor) -> None:
    """Stop updating the given models (their learning rate becomes 0)."""
    cohort.model_lr.masked_fill_(models, 0.0)
    unit_frozen = F.pad(models, (0, 1)).gather(1, cohort.unit_model)
    cohort.unit_lr.masked_fill_(unit_frozen, 0.0)


def run_epoch_steps(cohort: Cohort, bank: ImageBank, batches: EpochBatches,
                    full_batch_x: list[torch.Tensor] | None,
                    graphs: StepGraphs | None = None) -> torch.Tensor:
    """Every update of one epoch; returns the pre-update logits [G, N, M] of the samples the
    train metrics are computed on. No host synchronisation: every decision in here is taken
    on the host before the epoch or on the device (`tests/test_sync_free.py` checks it).
    `full_batch_x` holds the full batch's inputs in chunks (None for mini-batches). With
    `graphs` (CUDA) each update replays a captured step."""
    if full_batch_x is not None:
        def full_step(labels: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
            return sgd_step(cohort, full_batch_x, labels, weight)

        labels, masks = batches.labels[:, 0], batches.update_masks()
        step = full_step if graphs is None else graphs.get(
            "full", full_step, labels, batches.weights[:, 0])
        first = None
        for held in masks:
            logits = step(labels, batches.weights[:, 0] * held)
            first = logits.clone() if first is None else first
        assert first is not None
        return first

    def mini_step(rows: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor
                  ) -> torch.Tensor:
        return sgd_step(cohort, bank.gather(rows), labels, weight)

    if batches.thetas is not None:  # eager: the augmented images differ per step
        return torch.cat([sgd_step(cohort, batches.inputs(bank.gather(batches.rows[:, i]), i),
                                   batches.labels[:, i], batches.weights[:, i]).clone()
                          for i in range(batches.rows.shape[1])], dim=1)
    step = mini_step if graphs is None else graphs.get(
        "mini", mini_step, batches.rows[:, 0], batches.labels[:, 0], batches.weights[:, 0])
    return torch.cat([step(batches.rows[:, i], batches.labels[:, i], batches.weights[:, i])
                      .clone() for i in range(batches.rows.shape[1])], dim=1)


@contextmanager
def matmul_precision(precision: str) -> Iterator[None]:
    """Run the body with PyTorch's float32 matmul precision set to `precision` ('highest',
    'high' or 'medium'), restoring the previous setting afterwards."""
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision(precision)
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


def matmul_description(precision: str, device: torch.device) -> str:
    """What `precision` does to the training GEMMs on `device`, in words for the report."""
    if precision == "highest":
        return "float32"
    if device.type == "cuda":
        return "TF32/bf16 tensor cores, float32 sums"
    if _cpu_rounds_to_bf16(precision):
        return "bf16 products, float32 sums (oneDNN)"
    return "float32 (this CPU's kernels do not use bf16 at this precision)"


@functools.cache
def _cpu_rounds_to_bf16(precision: str) -> bool:
    """Whether a float32 matmul at `precision` rounds its inputs to bf16 on this CPU, found by
    computing one (whether oneDNN uses bf16 depends on the CPU and the PyTorch build, not on
    one instruction-set flag): bf16 inputs err by about 1e-2 relative, float32 by 1e-7."""
    a = torch.linspace(-1.0, 1.0, 128 * 784).reshape(128, 784).sin()  # a batch, MNIST-wide
    b = torch.linspace(-1.0, 1.0, 784 * 32).reshape(784, 32).cos()
    exact = a.double() @ b.double()
    with matmul_precision(precision):
        product = a @ b
    return bool(((product.double() - exact).abs().max() / exact.abs().max()) > 1e-4)


def train_cohort(
    cohort: Cohort,
    bank: ImageBank,
    epochs: int,
    batch_size: int | None,
    start_epoch: int = 0,
    on_epoch: EpochCallback | None = None,
    diverged: np.ndarray | None = None,
    precision: str = "highest",
    budget: Budget = "own",
    cuda_graphs: bool = True,
    evaluate_parts: tuple[str, ...] = ("val", "test"),
) -> None:
    """Train epochs `start_epoch`..`epochs-1`, calling `on_epoch` after each.

    `batch_size=None` is full-batch gradient descent. An epoch makes the updates of one pass
    at the `budget` batch size (`lowcap.training.batches.updates_per_epoch`). The updates run
    at float32 matmul `precision` (see `torch.set_float32_matmul_precision`; 'medium' uses
    bf16 products with float32 sums where the hardware has them); validation and test metrics
    are always computed at 'highest', exactly, after the epoch. Train metrics of an epoch come
    from the epoch's own forward passes, each before its update: for full-batch GD they are
    the exact metrics of the model entering the epoch (its first update, where the budget
    repeats it); for mini-batch SGD they pool the predictions made on each batch just before
    learning from it. Models that diverge (non-finite loss or weights) are frozen
    and reported with NaN metrics; the rest train on unaffected. On CUDA each update replays
    a captured CUDA graph of the step (`cuda_graphs=False`: eager launches). Only the
    `evaluate_parts` are evaluated after each epoch (the others' metrics are NaN).
    """
    done = torch.zeros(cohort.n_lanes, cohort.max_models, dtype=torch.bool,
                       device=cohort.device)
    if diverged is not None:
        done |= torch.from_numpy(diverged).to(cohort.device)
        _freeze(cohort, done)
    full_batch_x = None
    eval_sets = {part: EvalSet.of(cohort, bank, part) for part in evaluate_parts}
    nan = torch.full((cohort.n_lanes, cohort.max_models), np.nan, device=cohort.device,
                     dtype=cohort.w1.dtype)
    graphs = StepGraphs(cohort) if cuda_graphs and cohort.device.type == "cuda" else None
    for epoch in range(start_epoch, epochs):
        batches = _epoch_batches(cohort, bank, epoch, batch_size, budget)
        # The same full batch every epoch, unless it is augmented anew each epoch.
        if batch_size is None and (full_batch_x is None or batches.thetas is not None):
            full_batch_x = [batches.inputs(bank.gather(batches.rows[:, 0, i:i + CHUNK]), 0, i)
                            for i in range(0, batches.rows.shape[2], CHUNK)]
            if batches.thetas is not None:
                graphs = None  # a captured full step would hold the first epoch's images
        with matmul_precision(precision):
            seen = run_epoch_steps(cohort, bank, batches, full_batch_x, graphs)
        metrics = {name: nan for name in METRIC_NAMES}
        metrics.update({f"train_{k}": v for k, v in cohort_metrics(seen, batches.seen).items()})
        done |= _diverged_models(cohort, metrics["train_loss"])
        _freeze(cohort, done)
        with matmul_precision("highest"):
            for part, inputs in eval_sets.items():
                values = cohort_metrics(cohort.logits(inputs.x), inputs.labels)
                metrics.update({f"{part}_{k}": v for k, v in values.items()})
        # One device→host copy of the epoch's results.
        invalid = done | ~cohort.model_mask
        stacked = torch.stack([metrics[k] for k in METRIC_NAMES]).masked_fill(invalid, np.nan)
        host = torch.cat([stacked, done.unsqueeze(0).to(stacked.dtype)]).to(
            "cpu", torch.float64).numpy()
        arrays = dict(zip(METRIC_NAMES, host[:-1], strict=True))
        if on_epoch is not None:
            on_epoch(cohort, EpochResult(epoch, arrays, host[-1] > 0))
