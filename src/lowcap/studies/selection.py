"""Which trained models an analysis reads: a training study's models, filtered (`select:`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from pydantic import field_validator

from lowcap.data.tasks import TaskSplit
from lowcap.errors import UserInputError
from lowcap.run.analysis_cache import Rows, run_analysis_unit
from lowcap.run.config import (
    ConfigSection,
    Pair,
    PositiveInt,
    ProtocolConfig,
    RunConfig,
    Seed,
    parse_pairs,
)
from lowcap.run.context import RunContext
from lowcap.run.plan import ModelPlan
from lowcap.run.runner import TrainedModel, trained_models


class ModelFilter(ConfigSection):
    """`select:` in an analysis's section: which trained models it reads. The models of one
    training study (a config section that trains: capacity, lr_grid, sweep), narrowed by
    protocol, pair, width, learning rate and seed; an unset field keeps all of them."""

    # The training study whose models are read: capacity, lr_grid or sweep.
    study: str = "capacity"
    # Only these protocols' models (unset: every protocol of the run).
    protocols: list[Literal["reference", "corrected"]] | None = None
    # Only these digit pairs, e.g. [[2, 7]].
    pairs: list[Pair] | None = None
    # Only these hidden widths.
    widths: list[PositiveInt] | None = None
    # Only models trained at these learning rates.
    learning_rates: list[float] | None = None
    # Only these seeds.
    seeds: list[Seed] | None = None

    @field_validator("pairs", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        return None if value is None else parse_pairs(value)


@dataclass(frozen=True)
class Selection:
    """The models a `ModelFilter` selects, narrowed further by the analysis's own pairs and
    widths (None: no narrowing)."""

    filter: ModelFilter
    pairs: tuple[Pair, ...] | None = None
    widths: tuple[int, ...] | None = None

    def plans(self, cfg: RunConfig, protocol: ProtocolConfig) -> list[ModelPlan]:
        """The selected plans, in the training study's order."""
        f = self.filter
        if f.protocols is not None and protocol.name not in f.protocols:
            return []
        keep = {"pair": _both(f.pairs, self.pairs), "hidden": _both(f.widths, self.widths),
                "lr": f.learning_rates, "seed": f.seeds}
        return [p for p in training_study(f.study).plans(cfg, protocol)
                if all(values is None or getattr(p, field) in values
                       for field, values in keep.items())]

    def describe(self) -> str:
        """The selection in words, for an error message."""
        f = self.filter
        parts = [f"study {f.study}"]
        for name, values in (("protocols", f.protocols), ("pairs", f.pairs),
                             ("widths", f.widths), ("learning rates", f.learning_rates),
                             ("seeds", f.seeds), ("the section's pairs", self.pairs),
                             ("the section's widths", self.widths)):
            if values is not None:
                shown = [f"{v[0]}-{v[1]}" if isinstance(v, tuple) else str(v) for v in values]
                parts.append(f"{name} {', '.join(shown) or 'none'}")
        return "; ".join(parts)

    def healthy(self, ctx: RunContext, cfg: RunConfig, protocol: ProtocolConfig
                ) -> list[TrainedModel]:
        """The selected models that are trained and did not diverge."""
        return [m for m in trained_models(ctx.store, self.plans(cfg, protocol))
                if not m.diverged]

    def first_seed(self, ctx: RunContext, cfg: RunConfig, protocol: ProtocolConfig
                   ) -> TrainedModel | None:
        """The selected healthy model with the smallest seed: the one the paper's
        single-model analyses (t-SNE, saliency) look at."""
        candidates = self.healthy(ctx, cfg, protocol)
        return min(candidates, key=lambda m: m.plan.seed) if candidates else None


def at_pair_and_widths(spec: Any) -> Selection:
    """An analysis's models: its `select:` narrowed to its `pair` and `widths`."""
    return Selection(spec.select, (spec.pair,), tuple(spec.widths))


def one_model(spec: Any) -> Selection:
    """The selection of a single-model analysis: its `select:` at its (pair, hidden)."""
    return Selection(spec.select, (spec.pair,), (spec.hidden,))


def one_model_analysis(analysis: str, version: int,
                       measure: Callable[[RunContext, Any, str, TrainedModel], Rows]
                       ) -> Callable[[RunContext, Any, ProtocolConfig], bool]:
    """The compute of an analysis of one model, as the paper's single-model analyses pick it:
    the smallest healthy seed at the section's (pair, hidden) among its selected models. A
    resumable unit identified by the model, `version` and every setting of the section;
    `measure(ctx, section, protocol name, model)` gives its rows."""

    def compute(ctx: RunContext, cfg: Any, protocol: ProtocolConfig) -> bool:
        spec = getattr(cfg, analysis)
        model = one_model(spec).first_seed(ctx, cfg, protocol)
        if model is None:
            return False
        identity = {"model": model.model_id, "version": version,
                    **spec.model_dump(mode="json", exclude={"select"})}
        return run_analysis_unit(ctx, analysis, identity,
                                 lambda: measure(ctx, spec, protocol.name, model))

    return compute


def by_lane(ctx: RunContext, models: list[TrainedModel]
            ) -> list[tuple[TaskSplit, list[TrainedModel], list[dict[str, torch.Tensor]]]]:
    """Models grouped by split: (split, models, their parameters) per group."""
    groups: dict[tuple, list[TrainedModel]] = defaultdict(list)
    for model in models:
        groups[model.plan.lane_key()].append(model)
    return [(ctx.split(members[0].plan), members,
             [ctx.load_params(m.model_id) for m in members]) for members in groups.values()]


def _both(a: list | None, b: tuple | None) -> list | None:
    """Values allowed by both of two optional restrictions (None: unrestricted)."""
    if a is None or b is None:
        return None if a is None and b is None else list(a if b is None else b)
    return [v for v in a if v in b]


def training_study(name: str) -> Any:
    """The registered study called `name`, which must train models."""
    from lowcap.studies.registry import studies  # the registry imports every study

    trainers = {s.name: s for s in studies() if s.plans is not None}
    if name not in trainers:
        raise UserInputError(f"select.study: {name!r} is not a study that trains models; use "
                             f"one of {', '.join(trainers)}")
    return trainers[name]
