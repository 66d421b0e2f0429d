"""§4.3's config section: pruning levels, methods and rounding."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from lowcap.run.config import ConfigSection
from lowcap.studies.selection import ModelFilter


class PruningConfig(ConfigSection):
    """§4.3: one-shot pruning levels (fractions of weights removed) and methods."""

    # Which trained models it reads (default: the capacity sweep's).
    select: ModelFilter = ModelFilter()
    # Sparsities: the fraction of weights removed, each in (0, 1).
    levels: list[float] = Field(
        default=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99], min_length=1)
    # Magnitude per layer (the paper's), global magnitude, and random pruning as the baseline.
    methods: list[Literal["layerwise", "global", "random"]] = Field(
        default=["layerwise", "global", "random"], min_length=1)
    # How many weights s·n a layerwise level removes: "floor" = int(s·n), the paper's appendix
    # (method `layerwise`); "nearest" = round(s·n), torch's l1_unstructured (reported as
    # `layerwise_nearest`). The two differ by one weight where s·n has a fraction ≥ ½.
    rounding: list[Literal["floor", "nearest"]] = Field(default=["floor", "nearest"],
                                                        min_length=1)

    # The practical threshold of the width trends, in percentage points of F1 change: a change
    # over widths whose range stays below it is reported as flat.
    min_effect_pct: float = Field(1.0, ge=0)

    @field_validator("levels")
    @classmethod
    def _levels(cls, values: list[float]) -> list[float]:
        for level in values:
            if not 0 < level < 1:
                raise ValueError(f"sparsity {level} must be in (0, 1)")
        return values
