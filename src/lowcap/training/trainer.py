"""Training a cohort with SGD (mini-batch) or GD (full batch): the epoch loop.

Per epoch: the lanes' batches, every update (`Cohort.step`, one tensor program for all
models), the train metrics of the predictions made before each update, divergence (diverged
models are frozen), validation and test metrics, and one device-to-host copy for `on_epoch`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from lowcap.data.bank import ImageBank
from lowcap.models.cohort import Cohort
from lowcap.models.step import CHUNK
from lowcap.training.batches import Budget
from lowcap.training.epoch_batches import EpochBatches, epoch_batches
from lowcap.training.evaluation import EvalSet
from lowcap.training.graphs import StepGraphs
from lowcap.training.metrics import cohort_metrics
from lowcap.training.precision import matmul_precision

METRIC_NAMES = ("train_loss", "train_f1", "train_auc", "val_loss", "val_f1", "val_auc",
                "test_loss", "test_f1", "test_auc")


@dataclass
class EpochResult:
    """Metrics after one epoch, each an array [lanes, max_models] (NaN for padding/diverged)."""

    epoch: int
    metrics: dict[str, np.ndarray]
    diverged: np.ndarray  # bool [lanes, max_models], cumulative


EpochCallback = Callable[[Cohort, EpochResult], None]


def evaluated(epoch: int, epochs: int, every: int) -> bool:
    """Whether `train_cohort` evaluates after epoch `epoch` (from 0) of `epochs`: after every
    `every`-th and the last."""
    return (epoch + 1) % every == 0 or epoch + 1 == epochs


def run_epoch_steps(cohort: Cohort, bank: ImageBank, batches: EpochBatches,
                    full_batch_x: list[torch.Tensor] | None,
                    graphs: StepGraphs | None = None) -> torch.Tensor:
    """Every update of one epoch; returns the pre-update logits [G, N, M] of the samples the
    train metrics are computed on. No host synchronisation: every decision in here is taken
    on the host before the epoch or on the device (`tests/training/test_sync_free.py` checks it).
    `full_batch_x` holds the full batch's inputs in chunks (None for mini-batches). With
    `graphs` (CUDA) each update replays a captured step."""
    if full_batch_x is not None:
        def full_step(labels: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
            return cohort.step(full_batch_x, labels, weight)

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
        return cohort.step(bank.gather(rows), labels, weight)

    if batches.thetas is not None:  # eager: the augmented images differ per step
        return torch.cat([cohort.step(batches.inputs(bank.gather(batches.rows[:, i]), i),
                                      batches.labels[:, i], batches.weights[:, i]).clone()
                          for i in range(batches.rows.shape[1])], dim=1)
    step = mini_step if graphs is None else graphs.get(
        "mini", mini_step, batches.rows[:, 0], batches.labels[:, 0], batches.weights[:, 0])
    return torch.cat([step(batches.rows[:, i], batches.labels[:, i], batches.weights[:, i])
                      .clone() for i in range(batches.rows.shape[1])], dim=1)


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
    evaluate_every: int = 1,
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
    `evaluate_parts` are evaluated, after every `evaluate_every`-th epoch and the last (the
    others' metrics, and every metric of the epochs between, are NaN).
    """
    done = torch.zeros(cohort.n_lanes, cohort.max_models, dtype=torch.bool,
                       device=cohort.device)
    if diverged is not None:
        done |= torch.from_numpy(diverged).to(cohort.device)
        cohort.freeze(done)
    full_batch_x = None
    eval_sets = {part: EvalSet.of(cohort, bank, part) for part in evaluate_parts}
    nan = torch.full((cohort.n_lanes, cohort.max_models), np.nan, device=cohort.device,
                     dtype=cohort.w1.dtype)
    # A step on PGD inputs differentiates through the forward pass: it is not captured.
    graphs = (StepGraphs(cohort) if cuda_graphs and cohort.device.type == "cuda"
              and cohort.pgd is None else None)
    for epoch in range(start_epoch, epochs):
        batches = epoch_batches(cohort, bank, epoch, batch_size, budget)
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
        done |= cohort.diverged(metrics["train_loss"])
        cohort.freeze(done)
        if evaluated(epoch, epochs, evaluate_every):
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
