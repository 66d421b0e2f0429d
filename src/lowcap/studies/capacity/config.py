"""§4.2's capacity sweep: its config section."""

from __future__ import annotations

from pydantic import Field, field_validator

from lowcap.data.tasks import PAPER_PAIRS
from lowcap.run.config import ConfigSection, Pair, parse_pairs


class CapacityConfig(ConfigSection):
    """§4.2: pairs × widths × seeds at the main learning rate, and the min-capacity rule."""

    # Digit pairs to train, as [a, b] or 'a-b'.
    pairs: list[Pair] = Field(default=list(PAPER_PAIRS), min_length=1)
    # Minimum capacity rule: best validation F1 above this for every seed ...
    min_f1: float = Field(0.90, gt=0, lt=1)
    # ... and a seed standard deviation below this.
    max_std: float = Field(0.02, gt=0)

    _pairs = field_validator("pairs", mode="before")(parse_pairs)
