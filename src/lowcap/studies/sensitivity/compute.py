"""Companion paper A as a phase: train the factor variants, then measure every model's
generalization gap, Jacobian norms, misclassification AUC and linear-region transitions."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from lowcap.models.mlp import layer_count
from lowcap.run.analysis_cache import run_analysis_unit
from lowcap.run.config import ProtocolConfig
from lowcap.run.context import RunContext
from lowcap.run.plan import ModelPlan
from lowcap.run.runner import train_plans, trained_models
from lowcap.studies.capacity.report import plans as capacity_plans
from lowcap.studies.sensitivity import jacobian as sens
from lowcap.studies.sensitivity.config import SensitivityConfig
from lowcap.studies.sensitivity.deep_stack import DeepStack

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
        # The study measures the final models alone: validation and test after the last epoch.
        out += [(variant, p.with_hp(**VARIANT_CHANGES[variant], evaluate_every=p.hp.epochs))
                for p in study]
    return out


class ProbeSettings(Protocol):
    """What drawing probes reads from a study's config section."""

    points: int
    ellipses: int
    trajectory_points: int
    seed: int


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
    def draw(cls, ctx: RunContext, plan: ModelPlan, spec: ProbeSettings) -> Probes:
        split, bank = ctx.split(plan), ctx.analysis_bank(plan)
        rng = np.random.default_rng(spec.seed)
        data, take = {}, {}
        for part in ("train", "test"):
            data[part] = bank.inputs(split, part)
            n = len(data[part][1])
            take[part] = torch.from_numpy(rng.permutation(n)[: spec.points]).to(bank.device)
        noise = torch.from_numpy(rng.random((spec.points, bank.input_dim), dtype=np.float32)
                                 ).to(bank.device, bank.images.dtype)
        x_train = data["train"][0]
        ellipses = []
        for _ in range(spec.ellipses):
            a, b, c = x_train[torch.from_numpy(rng.choice(len(x_train), 3, replace=False))]
            ellipses.append(sens.ellipse(a, b, c, 2 * spec.trajectory_points))
        return cls(data, take, noise, ellipses)


def _measure_stack(stack: sens.ModelStack | DeepStack, probes: Probes) -> list[dict[str, float]]:
    """Every measurement of every model of one stack: one tensor program per probe set."""
    out: dict[str, torch.Tensor] = {}
    for part, (x, y) in probes.data.items():
        take = probes.take[part]
        if part == "test":  # the misclassification AUC needs every test point's norm
            logits, norms = stack.logits_and_jacobian_norms(x)
            wrong = ((logits > 0).to(y.dtype) != y[:, None]).cpu().numpy()
            error_auc = [float(roc_auc_score(wrong[:, m], norms[:, m].cpu().numpy()))
                         if 0 < wrong[:, m].sum() < len(wrong) else float("nan")
                         for m in range(stack.n_models)]
            out["error_auc"] = torch.tensor(error_auc)
            norms = norms[take]
        else:
            logits = stack.logits(x)
            norms = stack.logits_and_jacobian_norms(x[take])[1]
        target = y[:, None].expand_as(logits)
        out[f"{part}_acc"] = ((logits > 0).to(y.dtype) == target).double().mean(0)
        out[f"{part}_loss"] = F.binary_cross_entropy_with_logits(
            logits, target, reduction="none").mean(0)
        out[f"jac_{part}"] = norms.mean(0)
    out["jac_random"] = stack.logits_and_jacobian_norms(probes.noise)[1].mean(0)
    near = sens.near_data(len(probes.ellipses[0])).to(probes.noise.device)
    along: dict[str, list[torch.Tensor]] = defaultdict(list)
    for trajectory in probes.ellipses:
        switches = stack.switches(trajectory)  # [K, M]
        along["transitions"].append(stack.switches(trajectory, every=2).sum(0))
        along["transitions_2k"].append(switches.sum(0))
        norms = stack.logits_and_jacobian_norms(trajectory)[1]
        for where, mask in (("near", near), ("far", ~near)):
            along[f"jac_ellipse_{where}"].append(norms[mask].mean(0))
            along[f"transitions_{where}"].append(switches[mask].sum(0))
    out.update({key: torch.stack(values).double().mean(0) for key, values in along.items()})
    host = {key: value.double().cpu().tolist() for key, value in out.items()}
    return [{key: values[m] for key, values in host.items()} for m in range(stack.n_models)]


def measure_split(params: list[dict[str, torch.Tensor]], activations: list[str], probes: Probes
                 ) -> list[dict[str, float]]:
    """The measurements of models of one split, in order: one stack per activation and depth
    (one hidden layer: `ModelStack`, whose numbers the stored runs hold; deeper: `DeepStack`)."""
    measured: list[dict[str, float]] = [{} for _ in params]
    for activation, layers in sorted({(a, layer_count(p)) for a, p in zip(
            activations, params, strict=True)}):
        rows = [i for i, (act, p) in enumerate(zip(activations, params, strict=True))
                if act == activation and layer_count(p) == layers]
        kind = sens.ModelStack if layers == 2 else DeepStack
        stack = kind.of([params[i] for i in rows], activation)  # type: ignore[arg-type]
        for i, values in zip(rows, _measure_stack(stack, probes), strict=True):
            measured[i] = values
    return measured


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
        items = [([ctx.load_params(p.model_id) for _, p in group],
                  [p.hp.activation for _, p in group], Probes.draw(ctx, group[0][1], spec))
                 for group in by_split.values()]
        rows = []
        for group, measured in zip(by_split.values(), ctx.map(measure_split, items), strict=True):
            for (variant, plan), values in zip(group, measured, strict=True):
                rows += [(plan.model_id, {"variant": variant}, metric, value)
                         for metric, value in values.items()]
        return rows

    # "version" 2: norms and transitions near / away from the ellipses' data points.
    identity = {"models": sorted(stored), "version": 2, **spec.model_dump(mode="json")}
    return run_analysis_unit(ctx, "sensitivity", identity, measure)
