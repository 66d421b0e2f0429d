"""Which trained models an analysis reads: a selection over a training study's models."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from lowcap.data.tasks import TaskSplit
from lowcap.run.config import Pair, ProtocolConfig, RunConfig
from lowcap.run.plan import ModelPlan
from lowcap.run.runner import Rows, RunContext, TrainedModel, run_analysis_unit, trained_models


@dataclass(frozen=True)
class Selection:
    """The models `plans_of` trains under a protocol, narrowed to some pairs and widths
    (None: all of them)."""

    plans_of: Callable[[RunConfig, ProtocolConfig], list[ModelPlan]]
    pairs: tuple[Pair, ...] | None = None
    widths: tuple[int, ...] | None = None

    def plans(self, cfg: RunConfig, protocol: ProtocolConfig) -> list[ModelPlan]:
        """The selected plans, in the training study's order."""
        return [p for p in self.plans_of(cfg, protocol)
                if (self.pairs is None or p.pair in self.pairs)
                and (self.widths is None or p.hidden in self.widths)]

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


def one_model_analysis(analysis: str, plans_of: Callable[[RunConfig, ProtocolConfig],
                                                      list[ModelPlan]], version: int,
                       measure: Callable[[RunContext, Any, str, TrainedModel], Rows]
                       ) -> Callable[[RunContext, Any, ProtocolConfig], bool]:
    """The compute of an analysis of one model, as the paper's single-model analyses pick it:
    the smallest healthy seed at the section's (pair, hidden) among `plans_of`'s models. A
    resumable unit identified by the model, `version` and every setting of the section;
    `measure(ctx, section, protocol name, model)` gives its rows."""

    def compute(ctx: RunContext, cfg: Any, protocol: ProtocolConfig) -> bool:
        spec = getattr(cfg, analysis)
        chosen = Selection(plans_of, (spec.pair,), (spec.hidden,))
        model = chosen.first_seed(ctx, cfg, protocol)
        if model is None:
            return False
        identity = {"model": model.model_id, "version": version,
                    **spec.model_dump(mode="json")}
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
