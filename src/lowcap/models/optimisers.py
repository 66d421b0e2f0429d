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
    model i of lane g's optimiser; `shapes` names the parameters, of which `per_model` (the
    readout's bias) has one entry per model and every other one entry per unit."""

    def __init__(self, specs: list[list[OptimiserSpec]], unit_model: torch.Tensor,
                 shapes: dict[str, torch.Size], dtype: torch.dtype, per_model: str):
        g = unit_model.shape[0]
        m = max(len(lane) for lane in specs)
        device = unit_model.device
        table = torch.zeros(g, m + 1, 5, dtype=dtype)  # kind, momentum, β1, β2, decay
        for gi, lane in enumerate(specs):
            for mi, spec in enumerate(lane):
                table[gi, mi] = torch.tensor([KINDS.index(spec.kind), spec.momentum,
                                              spec.beta1, spec.beta2, spec.weight_decay])
        # Host decisions: which kinds and terms occur, so no pass is spent on absent ones.
        every = [spec for lane in specs for spec in lane]
        self.kinds = [k for k in KINDS if any(spec.kind == k for spec in every)]
        self.decays = any(spec.weight_decay > 0 for spec in every)
        self.table = table.to(device)[:, :m]  # [G, M, 5]
        self.unit_model = unit_model
        self.per_model = per_model
        self.steps = torch.zeros(g, m, dtype=dtype, device=device)
        kept = {"buf": "momentum" in self.kinds, "m": "adam" in self.kinds,
                "v": "adam" in self.kinds}
        self.buffers = {f"{kind}_{name}": torch.zeros(shape, dtype=dtype, device=device)
                        for name, shape in shapes.items() for kind, used in kept.items()
                        if used}

    def state(self) -> dict[str, torch.Tensor]:
        """The optimiser state (for snapshots), named apart from the parameters."""
        return {"opt_steps": self.steps, **{f"opt_{k}": v for k, v in self.buffers.items()}}

    def _per(self, name: str, ndim: int, per_model: torch.Tensor) -> torch.Tensor:
        """A per-model tensor [G, M] shaped to broadcast against parameter `name` of `ndim`
        dimensions (`per_model` is per model; every other tensor is per unit along dimension
        1)."""
        if name == self.per_model:
            return per_model
        padded = torch.nn.functional.pad(per_model, (0, 1))
        per_unit = padded.gather(1, self.unit_model)
        return per_unit.unsqueeze(2) if ndim == 3 else per_unit

    @torch.no_grad()
    def update(self, params: dict[str, torch.Tensor], grads: dict[str, torch.Tensor],
               model_lr: torch.Tensor, held: torch.Tensor) -> None:
        """One step of every model: params[name] -= lr · step(grads[name]), in place (the
        gradients too); `held` [G, 1] is 1 where the lane takes this update, 0 where its
        budget is spent. Per-model factors are small tensors; each full-size pass is one
        fused in-place operation, and only the kinds present are computed."""
        keep = held.expand_as(self.steps)
        self.steps.add_(keep)
        kind, momentum, beta1, beta2, decay = self.table.unbind(-1)
        t = self.steps.clamp_min(1.0)
        # Per model: the step size of each kind (0 for models of another kind or not held)
        # and the state's blend weights (0 where not held: the state stays).
        rate = {k: model_lr * keep * (kind == i) for i, k in enumerate(KINDS)}
        rate["adam"] = rate["adam"] / (1 - beta1**t)
        factors = {"decay": decay, "momentum": torch.where(keep > 0, momentum, 1.0),
                   "g_in_buf": keep, "m": (1 - beta1) * keep, "v": (1 - beta2) * keep,
                   "v_scale": 1 / (1 - beta2**t), **{f"rate_{k}": v for k, v in rate.items()}}
        for name, p in params.items():
            g = grads[name]
            f = {k: self._per(name, p.ndim, v) for k, v in factors.items()}
            if self.decays:
                g.addcmul_(p, f["decay"])
            if "sgd" in self.kinds:
                p.addcmul_(g, f["rate_sgd"], value=-1)
            if "momentum" in self.kinds:
                buf = self.buffers[f"buf_{name}"]
                buf.mul_(f["momentum"]).addcmul_(g, f["g_in_buf"])
                p.addcmul_(buf, f["rate_momentum"], value=-1)
            if "adam" in self.kinds:
                m, v = self.buffers[f"m_{name}"], self.buffers[f"v_{name}"]
                m.lerp_(g, f["m"])
                v.lerp_(g.mul_(g), f["v"])  # g is spent: its square in place
                denom = (v * f["v_scale"]).sqrt_().add_(EPS)
                p.addcmul_(m.div(denom), f["rate_adam"], value=-1)
