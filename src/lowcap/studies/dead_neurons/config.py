"""§4.4's config section: the Table 1 models and the pruning level compared."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from lowcap.run.config import ConfigSection, Pair, PositiveInt, parse_pair
from lowcap.studies.selection import ModelFilter


class DeadNeuronsConfig(ConfigSection):
    """§4.4: dead-unit counts before and after pruning at `level` (Table 1 models listed)."""

    # Which trained models it reads (default: the capacity sweep's).
    select: ModelFilter = ModelFilter()
    # The Table 1 models shown, as [a, b, width] (every selected model is counted).
    models: list[tuple[Pair, PositiveInt]] = Field(
        default=[((0, 1), 12), ((3, 8), 16), ((4, 9), 24)], min_length=1)
    # The pruning level compared with the dense model.
    level: float = Field(0.95, gt=0, lt=1)

    @field_validator("models", mode="before")
    @classmethod
    def _models(cls, values: Any) -> list[tuple[Pair, int]]:
        if not isinstance(values, list):
            raise ValueError(f"{values!r} is not a list of [digit, digit, width]")
        out = []
        for value in values:
            try:  # [a, b, h] as written in YAML, or [[a, b], h] as dumped
                pair, h = (value[:2], value[2]) if len(value) == 3 else value
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{value!r} is not [digit, digit, width]") from exc
            out.append((parse_pair(pair), h))
        return out
