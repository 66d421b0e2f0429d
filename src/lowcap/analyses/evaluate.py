"""Evaluating many (e.g. pruned) parameter sets at once by packing them into a cohort."""

from __future__ import annotations

import numpy as np
import torch

from lowcap.data.bank import ImageBank
from lowcap.data.tasks import TaskSplit
from lowcap.models.cohort import Cohort, Lane, ModelSpec
from lowcap.training.evaluation import EvalSet, evaluate

Params = dict[str, torch.Tensor]


def params_cohort(bank: ImageBank, lanes: list[tuple[TaskSplit, list[Params]]],
                  activation: str = "relu") -> Cohort:
    """A cohort holding the given parameters (one lane per split) on the bank's device."""
    layout = [Lane(split, 0, tuple(ModelSpec(p["w1"].shape[0], 1.0, 0) for p in plist))
              for split, plist in lanes]
    return Cohort(layout, activation=activation, device=bank.device,  # type: ignore[arg-type]
                  dtype=bank.images.dtype, params=[plist for _, plist in lanes])


def evaluate_params(bank: ImageBank, lanes: list[tuple[TaskSplit, list[Params]]],
                    parts: tuple[str, ...] = ("val",), activation: str = "relu"
                    ) -> dict[str, list[dict[str, np.ndarray]]]:
    """Per split part, per lane, {'loss', 'f1', 'auc'} arrays over the lane's parameter sets."""
    cohort = params_cohort(bank, lanes, activation)
    out = {}
    for part in parts:
        metrics = evaluate(cohort, EvalSet.of(cohort, bank, part))
        out[part] = [{k: v[g, : len(plist)].numpy() for k, v in metrics.items()}
                     for g, (_, plist) in enumerate(lanes)]
    return out


@torch.no_grad()
def hidden_activations(params: Params, x: torch.Tensor, activation: str = "relu"
                       ) -> torch.Tensor:
    """Hidden-layer outputs [N, h] of one model."""
    z = torch.addmm(params["b1"], x, params["w1"].T)
    return torch.relu(z) if activation == "relu" else torch.tanh(z)


@torch.no_grad()
def model_logits(params: Params, x: torch.Tensor, activation: str = "relu") -> torch.Tensor:
    """Output logits [N] of one model."""
    return hidden_activations(params, x, activation) @ params["w2"].reshape(-1) + params["b2"]
