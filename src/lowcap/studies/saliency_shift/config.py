"""The saliency-under-corruption study's config section."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from lowcap.run.config import ConfigSection, Pair, PositiveInt, Seed, parse_pair
from lowcap.studies.selection import ModelFilter


class SaliencyShiftConfig(ConfigSection):
    """How the saliency maps move as Gaussian noise grows and under occlusion, per width, next
    to the F1 on the same images: does attention move before accuracy drops?"""

    # Which trained models it reads (default: the capacity sweep's), at `pair` and `widths`.
    select: ModelFilter = ModelFilter()
    # Pair of the models explained.
    pair: Pair = (4, 9)
    # Widths of the models explained (every seed of each).
    widths: list[PositiveInt] = Field(default=[8, 24, 64], min_length=1)
    # Attribution methods whose maps are followed.
    methods: list[Literal["finite_difference", "gradient", "integrated_gradients"]] = Field(
        default=["finite_difference", "gradient", "integrated_gradients"], min_length=1)
    # Gaussian noise levels (σ > 0; the clean maps are the reference).
    sigmas: list[float] = Field(default=[0.05, 0.1, 0.2, 0.3, 0.5, 0.8], min_length=1)
    # Side of the square occluder, in pixels (as §4.6).
    occlusion_size: int = Field(7, strict=True, ge=1, le=28)
    # Finite-difference step (as §4.7).
    epsilon: float = Field(0.01, gt=0)
    # Validation images per model.
    max_images: PositiveInt = 200
    # "Attention moved": the mean Spearman correlation with the clean map is below this.
    moved_below: float = Field(0.5, gt=-1, lt=1)
    # "Accuracy dropped": F1 is this much below the clean F1.
    dropped_by: float = Field(0.05, gt=0, lt=1)
    # Seed of the image subsample, the noise and the occluder positions.
    seed: Seed = 0

    _pair = field_validator("pair", mode="before")(parse_pair)

    @field_validator("sigmas")
    @classmethod
    def _sigmas(cls, values: list[float]) -> list[float]:
        for sigma in values:
            if sigma <= 0:
                raise ValueError(f"noise σ {sigma} must be > 0 (the clean map is the reference)")
        return sorted(values)
