"""§4.2's capacity sweep: its config section."""

from __future__ import annotations

from pydantic import Field, field_validator

from lowcap.data.tasks import PAPER_PAIRS
from lowcap.run.config import ConfigSection, Pair, parse_pairs


class CapacityConfig(ConfigSection):
    """§4.2: pairs × widths × seeds at the main learning rate, and the min-capacity rule."""

    pairs: list[Pair] = Field(default=list(PAPER_PAIRS), min_length=1)
    min_f1: float = Field(0.90, gt=0, lt=1)
    max_std: float = Field(0.02, gt=0)

    _pairs = field_validator("pairs", mode="before")(parse_pairs)
