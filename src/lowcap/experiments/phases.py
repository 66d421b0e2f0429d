"""The paper's training phases (§4.1 LR grid, §4.2 capacity) and `lowcap sweep`, as plans."""

from __future__ import annotations

import time

from lowcap.experiments.config import ExperimentConfig, ProtocolConfig
from lowcap.experiments.plan import ModelPlan, grid
from lowcap.experiments.runner import RunContext, train_plans

# Run order: capacity first, so the LR grid reuses its models at the main learning rate
# (same plan, same model id).
TRAINING_PHASES = ("capacity", "lr_grid", "sweep")


def phase_plans(cfg: ExperimentConfig, phase: str, protocol: ProtocolConfig) -> list[ModelPlan]:
    """The models a training phase consists of under a protocol (empty if not configured)."""
    if phase == "capacity" and cfg.capacity is not None:
        return grid(cfg, protocol, cfg.capacity.pairs, cfg.widths, [cfg.lr])
    if phase == "lr_grid" and cfg.lr_grid is not None:
        return grid(cfg, protocol, [cfg.lr_grid.pair], cfg.widths, cfg.lr_grid.learning_rates)
    if phase == "sweep" and cfg.sweep is not None:
        return grid(cfg, protocol, cfg.sweep.pairs, cfg.sweep.widths, cfg.sweep.learning_rates)
    return []


def run_training(ctx: RunContext, cfg: ExperimentConfig) -> dict[str, float]:
    """Train every training phase (resuming), recording each phase's time in the store."""
    seconds: dict[str, float] = {}
    for protocol in cfg.protocols:
        for phase in TRAINING_PHASES:
            plans = phase_plans(cfg, phase, protocol)
            if not plans:
                continue
            started = time.perf_counter()
            trained = train_plans(ctx, phase, plans, cfg.snapshot_every)
            key = f"train_{phase}_{protocol.name}"
            seconds[key] = time.perf_counter() - started
            if trained:
                ctx.store.set_timing(key, seconds[key])
    return seconds
