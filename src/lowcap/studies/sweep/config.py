"""The sweep's config section and the models it trains."""

from __future__ import annotations

from pydantic import Field, field_validator

from lowcap.run.config import (
    ConfigSection,
    Pair,
    PositiveInt,
    ProtocolConfig,
    RunConfig,
    parse_pairs,
    positive_lrs,
)
from lowcap.run.plan import ModelPlan, grid
from lowcap.studies.base import section


class SweepConfig(ConfigSection):
    """`lowcap sweep`: an arbitrary grid of pairs × widths × learning rates × seeds."""

    # Digit pairs to train, as [a, b] or 'a-b'.
    pairs: list[Pair] = Field(min_length=1)
    # Hidden widths to train.
    widths: list[PositiveInt] = Field(min_length=1)
    # Learning rates to train at.
    learning_rates: list[float] = Field(min_length=1)

    _lrs = field_validator("learning_rates")(positive_lrs)

    _pairs = field_validator("pairs", mode="before")(parse_pairs)


def plans(cfg: RunConfig, protocol: ProtocolConfig) -> list[ModelPlan]:
    """The sweep's grid under a protocol (none without the section)."""
    spec = section(cfg, SweepConfig)
    return ([] if spec is None
            else grid(cfg, protocol, spec.pairs, spec.widths, spec.learning_rates))
