"""Running a config's studies in registry order: first every training study's models
(resuming), then every analysis under every protocol, each timed in the store."""

from __future__ import annotations

import time
from collections.abc import Iterator

from lowcap.errors import UserInputError
from lowcap.progress import progress
from lowcap.run.config import RunConfig
from lowcap.run.context import RunContext
from lowcap.run.plan import ModelPlan
from lowcap.run.runner import train_plans
from lowcap.studies.base import refusal
from lowcap.studies.registry import configured


def training_groups(cfg: RunConfig) -> Iterator[tuple[str, str, list[ModelPlan]]]:
    """(study, protocol, plans) of every training study the config sets, in run order."""
    for protocol in cfg.protocols:
        for study in configured(cfg):
            if study.plans is not None:
                plans = study.plans(cfg, protocol)
                if plans:
                    yield study.name, protocol.name, plans


def every_training_group(cfg: RunConfig) -> Iterator[tuple[str, str, list[ModelPlan]]]:
    """`training_groups`, then the models other studies train in their compute (e.g. the
    sensitivity studies'), as (study, protocol of its first model, plans)."""
    yield from training_groups(cfg)
    for study in configured(cfg):
        plans = [plan for _, plan in study.trains(cfg)] if study.trains is not None else []
        if plans:
            yield study.name, plans[0].protocol, plans



def check_selections(cfg: RunConfig, only: tuple[str, ...] | None = None) -> None:
    """UserInputError naming the study and its selection when an analysis the config runs
    (or one of `only`) would read no model under any protocol."""
    for study in configured(cfg):
        if only is not None and study.name not in only:
            continue
        for protocol in cfg.protocols:
            reason = refusal(study, protocol)
            if reason is not None:
                raise UserInputError(reason)
        if study.selection is None:
            continue
        chosen = study.selection(cfg)
        if not any(chosen.plans(cfg, protocol) for protocol in cfg.protocols):
            raise UserInputError(
                f"{study.name}: no model of this run matches its selection "
                f"({chosen.describe()}); change the section's pair/widths or its `select:` "
                "(study, protocols, pairs, widths, learning_rates, seeds), or the command's "
                "options")


def run_training(ctx: RunContext, cfg: RunConfig) -> dict[str, float]:
    """Train every training study's models (resuming), recording each one's time."""
    seconds: dict[str, float] = {}
    for study, protocol, plans in training_groups(cfg):
        started = time.perf_counter()
        trained = train_plans(ctx, study, plans, cfg.snapshot_every)
        key = f"train_{study}_{protocol}"
        seconds[key] = time.perf_counter() - started
        if trained:
            ctx.store.set_timing(key, seconds[key])
    return seconds


def run_analyses(ctx: RunContext, cfg: RunConfig, only: tuple[str, ...] | None = None
                 ) -> dict[str, float]:
    """Run every configured analysis (or those in `only`) under every protocol, resuming."""
    seconds: dict[str, float] = {}
    todo = [(protocol, study) for protocol in cfg.protocols for study in configured(cfg)
            if study.compute is not None and (only is None or study.name in only)]
    bar = progress(len(todo), "analyses", ctx.quiet, unit="analyses")
    for protocol, study in todo:
        started = time.perf_counter()
        did_work = study.compute(ctx, cfg, protocol)
        key = f"{study.name}_{protocol.name}"
        seconds[key] = time.perf_counter() - started
        if did_work:
            ctx.store.set_timing(key, seconds[key])
        bar.update(1)
    bar.close()
    return seconds
