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

    # The protocol whose capacity sweep (and variants) is measured.
    protocol: Literal["reference", "corrected"] = "corrected"
    # Pairs of the variant models.
    pairs: list[Pair] = Field(default=[(4, 9)], min_length=1)
    # Widths of the variant models.
    widths: list[PositiveInt] = Field(default=[4, 8, 16, 32, 64], min_length=1)
    # Factor variants trained beside the sweep.
    variants: list[Literal["random_labels", "full_batch", "tanh"]] = [
        "random_labels", "full_batch", "tanh"]
    # Train and test points each Jacobian norm is averaged over.
    points: PositiveInt = 500
    # Ellipses through three training points, per split.
    ellipses: int = Field(5, strict=True, ge=1, le=1000)
    # Points along each ellipse (transitions are also counted at twice as many).
    trajectory_points: int = Field(2048, strict=True, ge=16, le=65536)
    # Bootstrap resamples of the correlations' intervals.
    bootstrap: int = Field(1000, strict=True, ge=1, le=100_000)
    # Seed of the probes (points, noise, ellipses).
    seed: Seed = 0

    _pairs = field_validator("pairs", mode="before")(parse_pairs)
