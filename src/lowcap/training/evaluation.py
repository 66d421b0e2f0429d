"""Metrics of every model of a cohort on a held-out part of its lanes' splits, all lanes at once.

The inputs of all lanes are gathered once into one padded tensor, so an evaluation is one
batched forward pass (`Cohort.logits`) followed by one batched metrics program
(`cohort_metrics`) and one copy of its results to the host.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lowcap.data.bank import ImageBank
from lowcap.models.cohort import Cohort
from lowcap.training.metrics import METRICS, LabelLayout, cohort_metrics


@dataclass
class EvalSet:
    """Inputs x [G, N, 784] of every lane, padded to the longest lane, with their labels'
    layout (lane g's real samples are its first ones)."""

    x: torch.Tensor
    labels: LabelLayout

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
        real = np.arange(width) < np.array([len(r) for r in rows])[:, None]
        return cls(bank.gather(padded_rows),
                   LabelLayout.of(padded_y, real, bank.device, bank.images.dtype))

    @classmethod
    def single(cls, x: torch.Tensor, y: torch.Tensor) -> EvalSet:
        """A one-lane set from inputs x [N, 784] and labels y [N] (e.g. corrupted images)."""
        labels = y.detach().cpu().numpy()[None]
        return cls(x.unsqueeze(0), LabelLayout.of(labels, np.ones(labels.shape, dtype=bool),
                                                  x.device, x.dtype))


@torch.no_grad()
def evaluate(cohort: Cohort, inputs: EvalSet) -> dict[str, torch.Tensor]:
    """{'loss', 'f1', 'auc'} [G, M] (float64, on the CPU; NaN where no model) of every model."""
    return metrics_to_host(cohort, cohort_metrics(cohort.logits(inputs.x), inputs.labels))


def metrics_to_host(cohort: Cohort, metrics: dict[str, torch.Tensor]
                    ) -> dict[str, torch.Tensor]:
    """The metrics [G, M] as float64 on the CPU, NaN at padding models: one device→host copy."""
    stacked = torch.stack([metrics[k] for k in METRICS])
    stacked = stacked.masked_fill(~cohort.model_mask, float("nan"))
    host = stacked.to("cpu", torch.float64)
    return dict(zip(METRICS, host.unbind(0), strict=True))
