"""The Novak-scale study as a phase: train the factor grid (cohorts, resumable), then measure
every model's gap, Jacobian norms and transitions with the sensitivity study's
`measure_split`: one stack per (split, depth)."""

from __future__ import annotations

from collections import defaultdict
from itertools import product

from lowcap.run.analysis_cache import run_analysis_unit
from lowcap.run.config import PROTOCOL_PRESETS, ProtocolConfig
from lowcap.run.context import RunContext
from lowcap.run.plan import ModelPlan
from lowcap.run.runner import train_plans, trained_models
from lowcap.studies.sensitivity.compute import Probes, measure_split
from lowcap.studies.sensitivity_scale.config import SensitivityScaleConfig
from lowcap.training.hyperparameters import Hyperparameters

PROTOCOL = "sensitivity_scale"  # the models' protocol name in the store


def population(spec: SensitivityScaleConfig) -> list[ModelPlan]:
    """Every model of the grid, on the corrected protocol's other settings."""
    corrected = ProtocolConfig(name="corrected", **PROTOCOL_PRESETS["corrected"])
    plans = []
    for dataset, pair, depth, width, optimiser, batch, augment, labels, seed in product(
            spec.datasets, spec.pairs, spec.depths, spec.widths, spec.optimisers,
            spec.batch_sizes, spec.augment, spec.labels, spec.seeds):
        batch_size = None if batch == "full" else int(batch)
        budget = spec.budget_batch_size
        hp = Hyperparameters.of(
            corrected, epochs=spec.epochs, batch_size=batch_size, activation="relu",
            labels=labels, train_size=spec.train_size, augment=augment, optimiser=optimiser,
            dataset=dataset, depth=depth, evaluate_every=spec.epochs,  # final models alone
            budget_batch_size="own" if budget is None or budget == batch_size else budget)
        plans.append(ModelPlan(PROTOCOL, tuple(pair), width,  # type: ignore[arg-type]
                               spec.learning_rates[optimiser], seed, hp))
    return plans


def compute(ctx: RunContext, cfg, protocol: ProtocolConfig) -> bool:
    """Train and measure the grid once per run (under the run's first protocol)."""
    spec: SensitivityScaleConfig = cfg.sensitivity_scale
    if protocol.name != cfg.protocols[0].name:
        return False
    plans = population(spec)
    train_plans(ctx, "sensitivity_scale", plans, cfg.snapshot_every)
    stored = {m.model_id: m for m in trained_models(ctx.store, plans) if not m.diverged}

    def measure():
        # One work item per split: its models share the probes (one stack per depth).
        groups: dict[tuple, list[ModelPlan]] = defaultdict(list)
        for plan in plans:
            if plan.model_id in stored:
                groups[plan.lane_key()].append(plan)
        items = [([ctx.load_params(p.model_id) for p in members], ["relu"] * len(members),
                  Probes.draw(ctx, members[0], spec)) for members in groups.values()]
        rows = []
        for members, measured in zip(groups.values(), ctx.map(measure_split, items),
                                     strict=True):
            for plan, values in zip(members, measured, strict=True):
                rows += [(plan.model_id, {}, metric, value) for metric, value in values.items()]
        return rows

    identity = {"models": sorted(stored), **spec.model_dump(mode="json")}
    return run_analysis_unit(ctx, "sensitivity_scale", identity, measure)
