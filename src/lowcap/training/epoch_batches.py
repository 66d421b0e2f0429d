"""One epoch's batches of every lane, as device tensors the steps read without a host copy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lowcap.data.bank import ImageBank
from lowcap.models.cohort import Cohort
from lowcap.training.augment import augment, draws, thetas
from lowcap.training.batches import Budget, epoch_order
from lowcap.training.metrics import LabelLayout


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


def epoch_batches(cohort: Cohort, bank: ImageBank, epoch: int, batch_size: int | None,
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


