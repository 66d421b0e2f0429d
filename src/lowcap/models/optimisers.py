"""Optimisers per model of a cohort: SGD, SGD with momentum and Adam, each with L2 weight decay,
each model with its own hyper-parameters — the arithmetic of `torch.optim.SGD` and
`torch.optim.Adam` on the cohort's batched parameters.

A cohort of plain SGD models without weight decay holds no optimiser state (the trainer's fused
path folds the learning rate into the gradient GEMM). Otherwise `CohortOptimiser` keeps, per
parameter tensor, a momentum buffer and Adam's two moments, and per model its step count; every
update is computed for all models at once and each model takes its own kind's step. A lane
whose update budget is spent (a zero-weight step) changes neither parameters nor state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

Kind = Literal["sgd", "momentum", "adam"]
KINDS: tuple[Kind, ...] = ("sgd", "momentum", "adam")
EPS = 1e-8  # Adam's ε, torch's default
PARAMETERS = ("w1", "b1", "w2", "b2")


@dataclass(frozen=True)
class OptimiserSpec:
    """One model's optimiser: its kind, momentum (SGD with momentum: torch's, no dampening,
    not Nesterov), Adam's β1 and β2, and L2 weight decay added to the gradient (as torch's
    `weight_decay`)."""

    kind: Kind = "sgd"
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown optimiser {self.kind!r}; choose from {list(KINDS)}")
        for name in ("momentum", "beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} {getattr(self, name)} must be in [0, 1)")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay {self.weight_decay} must be ≥ 0")

    @property
    def plain(self) -> bool:
        """Plain SGD without weight decay: no state, the fused path."""
        return self.kind == "sgd" and self.weight_decay == 0


class CohortOptimiser:
    """Per-unit and per-model hyper-parameters and the optimiser state of a cohort's layout.

    `unit_model` [G, H] maps units to models (padding units to column M); `specs[g][i]` is
    model i of lane g's optimiser."""

    def __init__(self, specs: list[list[OptimiserSpec]], unit_model: torch.Tensor,
                 shapes: dict[str, torch.Size], dtype: torch.dtype):
        g, h = unit_model.shape
        m = max(len(lane) for lane in specs)
        device = unit_model.device
        table = torch.zeros(g, m + 1, 5, dtype=dtype)  # kind, momentum, β1, β2, decay
        for gi, lane in enumerate(specs):
            for mi, spec in enumerate(lane):
                table[gi, mi] = torch.tensor([KINDS.index(spec.kind), spec.momentum,
                                              spec.beta1, spec.beta2, spec.weight_decay])
        table = table.to(device)
        per_unit = table.gather(1, unit_model.unsqueeze(-1).expand(g, h, 5))
        # Hyper-parameters shaped to broadcast against each parameter tensor.
        self.hyper = {"w1": per_unit.unsqueeze(2), "b1": per_unit, "w2": per_unit,
                      "b2": table[:, :m]}
        self.unit_model = unit_model
        self.steps = torch.zeros(g, m, dtype=dtype, device=device)
        self.buffers = {f"{kind}_{name}": torch.zeros(shape, dtype=dtype, device=device)
                        for name, shape in shapes.items() for kind in ("buf", "m", "v")}

    def state(self) -> dict[str, torch.Tensor]:
        """The optimiser state (for snapshots), named apart from the parameters."""
        return {"opt_steps": self.steps, **{f"opt_{k}": v for k, v in self.buffers.items()}}

    def _per(self, name: str, per_model: torch.Tensor) -> torch.Tensor:
        """A per-model tensor [G, M] shaped for parameter `name`."""
        if name == "b2":
            return per_model
        padded = torch.nn.functional.pad(per_model, (0, 1))
        per_unit = padded.gather(1, self.unit_model)
        return per_unit.unsqueeze(2) if name == "w1" else per_unit

    @torch.no_grad()
    def update(self, params: dict[str, torch.Tensor], grads: dict[str, torch.Tensor],
               model_lr: torch.Tensor, held: torch.Tensor) -> None:
        """One step of every model: params[name] -= lr · step(grads[name]); `held` [G, 1]
        is 1 where the lane takes this update, 0 where its budget is spent."""
        held_models = held.expand_as(self.steps).to(torch.bool)
        self.steps.add_(held_models.to(self.steps.dtype))
        for name in PARAMETERS:
            p, grad = params[name], grads[name]
            hyper = self.hyper[name]
            kind, momentum, beta1, beta2, decay = hyper.unbind(-1)
            keep = self._per(name, held_models.to(p.dtype)) > 0
            g = grad + decay * p
            buf, m, v = (self.buffers[f"{k}_{name}"] for k in ("buf", "m", "v"))
            buf.copy_(torch.where(keep, momentum * buf + g, buf))
            m.copy_(torch.where(keep, beta1 * m + (1 - beta1) * g, m))
            v.copy_(torch.where(keep, beta2 * v + (1 - beta2) * g * g, v))
            t = self._per(name, self.steps).clamp_min(1.0)
            adam = (m / (1 - beta1 ** t)) / ((v / (1 - beta2 ** t)).sqrt() + EPS)
            step = torch.where(kind == 0, g, torch.where(kind == 1, buf, adam))
            lr = self._per(name, model_lr)
            p.copy_(torch.where(keep, p - lr * step, p))
