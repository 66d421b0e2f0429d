"""`lowcap sweep`: any grid of pairs × widths × learning rates × seeds, trained as cohorts."""

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
from lowcap.studies.base import Command, Study


class SweepConfig(ConfigSection):
    """`lowcap sweep`: an arbitrary grid of pairs × widths × learning rates × seeds."""

    pairs: list[Pair] = Field(min_length=1)
    widths: list[PositiveInt] = Field(min_length=1)
    learning_rates: list[float] = Field(min_length=1)

    _lrs = field_validator("learning_rates")(positive_lrs)

    _pairs = field_validator("pairs", mode="before")(parse_pairs)


def plans(cfg: RunConfig, protocol: ProtocolConfig) -> list[ModelPlan]:
    """The sweep's grid under a protocol (none without the section)."""
    spec = getattr(cfg, "sweep", None)
    return ([] if spec is None
            else grid(cfg, protocol, spec.pairs, spec.widths, spec.learning_rates))


STUDY = Study("sweep", SweepConfig, plans=plans, command=Command(
    "sweep", "Train the cohort a YAML config declares (tasks × widths × learning rates × "
    "seeds), run its analyses and write the report.", kind="train"))
