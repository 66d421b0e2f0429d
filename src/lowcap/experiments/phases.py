"""The paper's training phases (§4.1 LR grid, §4.2 capacity) and `lowcap sweep`, as plans."""

from __future__ import annotations

import time

from lowcap.experiments.config import ExperimentConfig
from lowcap.experiments.plan import ModelPlan, grid
from lowcap.experiments.runner import RunContext, train_plans


def training_phases(cfg: ExperimentConfig) -> list[tuple[str, list[ModelPlan]]]:
    """(phase, plans) in run order. Capacity goes first: the LR grid then reuses its models
    at the main learning rate (same plan, same model id)."""
    phases: list[tuple[str, list[ModelPlan]]] = []
    for protocol in cfg.protocols:
        if cfg.capacity is not None:
            phases.append(("capacity", grid(cfg, protocol, cfg.capacity.pairs, cfg.widths,
                                            [cfg.lr])))
        if cfg.lr_grid is not None:
            phases.append(("lr_grid", grid(cfg, protocol, [cfg.lr_grid.pair], cfg.widths,
                                           cfg.lr_grid.learning_rates)))
        if cfg.sweep is not None:
            phases.append(("sweep", grid(cfg, protocol, cfg.sweep.pairs, cfg.sweep.widths,
                                         cfg.sweep.learning_rates)))
    return phases


def run_training(ctx: RunContext, cfg: ExperimentConfig) -> dict[str, float]:
    """Train every training phase (resuming), recording each phase's time in the store."""
    seconds: dict[str, float] = {}
    for phase, plans in training_phases(cfg):
        started = time.perf_counter()
        trained = train_plans(ctx, phase, plans, cfg.snapshot_every)
        key = f"train_{phase}_{plans[0].protocol}"
        seconds[key] = time.perf_counter() - started
        if trained:
            ctx.store.set_timing(key, seconds[key])
    return seconds
