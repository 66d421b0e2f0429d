"""Companion paper A as a phase: train the factor variants, then measure every model's
generalization gap, Jacobian norms, misclassification AUC and linear-region transitions."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from lowcap.models.forward import forward
from lowcap.run.config import ProtocolConfig
from lowcap.run.plan import ModelPlan
from lowcap.run.runner import RunContext, run_analysis_unit, train_plans, trained_models
from lowcap.studies.capacity.report import plans as capacity_plans
from lowcap.studies.sensitivity import jacobian as sens
from lowcap.studies.sensitivity.config import SensitivityConfig

VARIANT_CHANGES = {"random_labels": {"labels": "random"}, "full_batch": {"batch_size": None},
                   "tanh": {"activation": "tanh"}}


def population(cfg, spec: SensitivityConfig
               ) -> list[tuple[str, ModelPlan]]:
    """(variant, plan) of every model of the study: the capacity sweep ('base') and variants."""
    protocol = cfg.protocol(spec.protocol)
    base = capacity_plans(cfg, protocol)
    study = [p for p in base if p.pair in spec.pairs and p.hidden in spec.widths]
    out = [("base", p) for p in base]
    for variant in spec.variants:
        out += [(variant, replace(p, **VARIANT_CHANGES[variant])) for p in study]
    return out


def _accuracy_and_loss(logits: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    acc = ((logits > 0).to(y.dtype) == y).double().mean().item()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y).item()
    return acc, loss


@dataclass
class Probes:
    """What every model of one split is measured on: its train/test data, the random subsets
    the Jacobian norms are averaged over, uniform-noise inputs, and the ellipse trajectories
    at twice `trajectory_points` (every second point gives the coarser count)."""

    data: dict[str, tuple[torch.Tensor, torch.Tensor]]
    take: dict[str, torch.Tensor]
    noise: torch.Tensor
    ellipses: list[torch.Tensor]

    @classmethod
    def draw(cls, ctx: RunContext, plan: ModelPlan, spec: SensitivityConfig) -> Probes:
        split = ctx.split(plan)
        rng = np.random.default_rng(spec.seed)
        data, take = {}, {}
        for part in ("train", "test"):
            data[part] = ctx.bank.inputs(split, part)
            n = len(data[part][1])
            take[part] = torch.from_numpy(rng.permutation(n)[: spec.points]).to(ctx.bank.device)
        noise = torch.from_numpy(rng.random((spec.points, 784), dtype=np.float32)).to(
            ctx.bank.device, ctx.bank.images.dtype)
        x_train = data["train"][0]
        ellipses = []
        for _ in range(spec.ellipses):
            a, b, c = x_train[torch.from_numpy(rng.choice(len(x_train), 3, replace=False))]
            ellipses.append(sens.ellipse(a, b, c, 2 * spec.trajectory_points))
        return cls(data, take, noise, ellipses)


def _measure(params: dict[str, torch.Tensor], probes: Probes, activation: str
             ) -> dict[str, float]:
    out: dict[str, float] = {}
    for part, (x, y) in probes.data.items():
        take = probes.take[part]
        if part == "test":  # the misclassification AUC needs every test point's norm
            logits, norms = sens.logits_and_jacobian_norm(params, x, activation)
            wrong = ((logits > 0).to(y.dtype) != y).cpu().numpy()
            out["error_auc"] = (float(roc_auc_score(wrong, norms.cpu().numpy()))
                                if 0 < wrong.sum() < len(wrong) else float("nan"))
            norms = norms[take]
        else:
            logits = forward(params, x, activation)
            norms = sens.jacobian_norm(params, x[take], activation)
        out[f"{part}_acc"], out[f"{part}_loss"] = _accuracy_and_loss(logits, y)
        out[f"jac_{part}"] = norms.mean().item()
    out["jac_random"] = sens.jacobian_norm(params, probes.noise, activation).mean().item()
    coarse, fine = [], []
    along: dict[str, list[float]] = defaultdict(list)
    near = sens.near_data(len(probes.ellipses[0])).to(probes.noise.device)
    for trajectory in probes.ellipses:
        pattern = sens.hidden_pattern(params, trajectory)
        switches = sens.switches(pattern)
        coarse.append(sens.count_transitions(pattern[::2]))
        fine.append(int(switches.sum()))  # = count_transitions(pattern), closed
        norms = sens.jacobian_norm(params, trajectory, activation)
        for where, mask in (("near", near), ("far", ~near)):
            along[f"jac_ellipse_{where}"].append(norms[mask].mean().item())
            along[f"transitions_{where}"].append(float(switches[mask].sum()))
    out["transitions"], out["transitions_2k"] = float(np.mean(coarse)), float(np.mean(fine))
    out.update({key: float(np.mean(values)) for key, values in along.items()})
    return out


def _measure_all(params: list[dict[str, torch.Tensor]], activations: list[str], probes: Probes
                 ) -> list[dict[str, float]]:
    return [_measure(p, probes, act) for p, act in zip(params, activations, strict=True)]


def compute(ctx: RunContext, cfg, protocol: ProtocolConfig) -> bool:
    """Run the study once, under the protocol the config names."""
    spec = cfg.sensitivity
    assert spec is not None
    if protocol.name != spec.protocol or not capacity_plans(cfg, protocol):
        return False
    members = population(cfg, spec)
    variants = [p for v, p in members if v != "base"]
    if variants:
        train_plans(ctx, "sensitivity", variants, cfg.snapshot_every)
    stored = {m.model_id: m for m in trained_models(ctx.store, [p for _, p in members])}

    def measure():
        by_split: dict[tuple, list[tuple[str, ModelPlan]]] = defaultdict(list)
        for variant, plan in members:
            model = stored.get(plan.model_id)
            if model is not None and not model.diverged:
                by_split[plan.lane_key()].append((variant, plan))
        # One work item per split: its models share the probes (Ray tasks on a cluster).
        items = [([ctx.load_params(p.model_id) for _, p in group], [p.activation for _, p in group],
                  Probes.draw(ctx, group[0][1], spec)) for group in by_split.values()]
        rows = []
        for group, measured in zip(by_split.values(), ctx.map(_measure_all, items), strict=True):
            for (variant, plan), values in zip(group, measured, strict=True):
                rows += [(plan.model_id, {"variant": variant}, metric, value)
                         for metric, value in values.items()]
        return rows

    # "version" 2: norms and transitions near / away from the ellipses' data points.
    identity = {"models": sorted(stored), "version": 2, **spec.model_dump(mode="json")}
    return run_analysis_unit(ctx, "sensitivity", identity, measure)
