"""Metrics of every model of a cohort on a held-out part of its lanes' splits, all lanes at once.

The inputs of all lanes are gathered once into one padded tensor, so an evaluation is one
batched forward pass (`Cohort.logits`) followed by the metrics of each lane's own samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lowcap.data.bank import ImageBank
from lowcap.models.cohort import Cohort
from lowcap.training.metrics import classification_metrics


@dataclass
class EvalSet:
    """Inputs x [G, N, 784] and labels y [G, N] of every lane, padded to the longest lane;
    lane g's real samples are the first `counts[g]`."""

    x: torch.Tensor
    y: torch.Tensor
    counts: list[int]

    @classmethod
    def of(cls, cohort: Cohort, bank: ImageBank, part: str) -> EvalSet:
        """Every lane's `part` ('val', 'test' or 'train') samples."""
        rows = [bank.rows(lane.split, part) for lane in cohort.lanes]
        labels = [getattr(lane.split, f"{part}_y") for lane in cohort.lanes]
        width = max(len(r) for r in rows)
        padded_rows = np.full((len(rows), width), bank.pad_row, dtype=np.int64)
        padded_y = np.zeros((len(rows), width), dtype=np.float32)
        for g, (r, y) in enumerate(zip(rows, labels, strict=True)):
            padded_rows[g, : len(r)] = r
            padded_y[g, : len(y)] = y
        x = bank.gather(padded_rows)
        y = torch.from_numpy(padded_y).to(bank.device, bank.images.dtype)
        return cls(x, y, [len(r) for r in rows])

    @classmethod
    def single(cls, x: torch.Tensor, y: torch.Tensor) -> EvalSet:
        """A one-lane set from inputs x [N, 784] and labels y [N] (e.g. corrupted images)."""
        return cls(x.unsqueeze(0), y.unsqueeze(0), [len(y)])


@torch.no_grad()
def evaluate(cohort: Cohort, inputs: EvalSet) -> dict[str, torch.Tensor]:
    """{'loss', 'f1', 'auc'} [G, M] (float64, on the CPU; NaN where no model) of every model."""
    return lane_metrics(cohort, cohort.logits(inputs.x), inputs.y, inputs.counts)


def lane_metrics(cohort: Cohort, logits: torch.Tensor, y: torch.Tensor, counts: list[int]
                 ) -> dict[str, torch.Tensor]:
    """{'loss', 'f1', 'auc'} [G, M] from logits [G, N, M] and labels [G, N], lane g's real
    samples being its first `counts[g]`."""
    out = {k: torch.full((cohort.n_lanes, cohort.max_models), float("nan"),
                         dtype=torch.float64) for k in ("loss", "f1", "auc")}
    for g, (lane, count) in enumerate(zip(cohort.lanes, counts, strict=True)):
        n_models = len(lane.models)
        values = classification_metrics(logits[g, :count, :n_models].T, y[g, :count])
        for key, value in values.items():
            out[key][g, :n_models] = value.double().cpu()
    return out
