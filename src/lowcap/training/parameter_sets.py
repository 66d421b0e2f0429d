"""Evaluating many (e.g. pruned) parameter sets at once by packing them into a cohort."""

from __future__ import annotations

import numpy as np
import torch

from lowcap.data.tasks import TaskSplit
from lowcap.models.cohort import Cohort, Lane, ModelSpec
from lowcap.models.mlp import layer_count
from lowcap.training.evaluation import EvalSet, evaluate

Params = dict[str, torch.Tensor]


def params_cohort(lanes: list[tuple[TaskSplit, list[Params]]], activation: str = "relu",
                  device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
                  ) -> Cohort:
    """A cohort holding the given parameters (one lane per split; every model of one depth)."""
    layout = [Lane(split, 0, tuple(ModelSpec(p["w1"].shape[0], 1.0, 0) for p in plist))
              for split, plist in lanes]
    first = lanes[0][1][0]
    return Cohort(layout, activation=activation, device=device,  # type: ignore[arg-type]
                  dtype=dtype, params=[plist for _, plist in lanes],
                  input_dim=first["w1"].shape[1], depth=layer_count(first) - 1)


def evaluate_lane(split: TaskSplit, inputs: dict[str, tuple[torch.Tensor, torch.Tensor]],
                  params: list[Params], activation: str = "relu"
                  ) -> dict[str, dict[str, np.ndarray]]:
    """{part: {'loss', 'f1', 'auc'} arrays over `params`} for parameter sets of one split,
    `inputs` holding each part's (x [N, d], y [N]). Needs no run directory or image bank, so
    it can run anywhere (a Ray task)."""
    x = next(iter(inputs.values()))[0]
    cohort = params_cohort([(split, params)], activation, x.device, x.dtype)
    return {part: {k: v[0, : len(params)].numpy()
                   for k, v in evaluate(cohort, EvalSet.single(*xy)).items()}
            for part, xy in inputs.items()}
