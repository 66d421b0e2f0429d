"""Companion paper A's config section: the population measured and the probes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from lowcap.run.config import ConfigSection, Pair, PositiveInt, Seed, parse_pairs


class SensitivityConfig(ConfigSection):
    """Companion paper A (Novak et al. 2018): Jacobian norm vs generalization over a cohort.

    The population is the capacity sweep of `protocol` plus factor variants trained on `pairs` ×
    `widths`: random training labels, full-batch GD, tanh instead of ReLU.
    """

    protocol: Literal["reference", "corrected"] = "corrected"
    pairs: list[Pair] = Field(default=[(4, 9)], min_length=1)
    widths: list[PositiveInt] = Field(default=[4, 8, 16, 32, 64], min_length=1)
    variants: list[Literal["random_labels", "full_batch", "tanh"]] = [
        "random_labels", "full_batch", "tanh"]
    points: PositiveInt = 500
    ellipses: int = Field(5, strict=True, ge=1, le=1000)
    trajectory_points: int = Field(2048, strict=True, ge=16, le=65536)
    bootstrap: int = Field(1000, strict=True, ge=1, le=100_000)
    seed: Seed = 0

    _pairs = field_validator("pairs", mode="before")(parse_pairs)
