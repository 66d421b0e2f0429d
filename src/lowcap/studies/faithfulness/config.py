"""The attribution-faithfulness study's config section."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from lowcap.run.config import ConfigSection, Pair, PositiveInt, Seed, parse_pair
from lowcap.studies.selection import ModelFilter

Method = Literal["finite_difference", "gradient", "integrated_gradients", "random"]


class FaithfulnessConfig(ConfigSection):
    """Are the saliency maps faithful? Deletion and insertion curves of each attribution
    method, and a model-randomisation sanity check, for the models of one pair, dense and
    pruned."""

    # Which trained models it reads (default: the capacity sweep's), at `pair` and `widths`.
    select: ModelFilter = ModelFilter()
    # Pair of the models explained.
    pair: Pair = (4, 9)
    # Widths of the models explained (every seed of each).
    widths: list[PositiveInt] = Field(default=[8, 24, 64], min_length=1)
    # Attribution methods compared ('random' is the baseline a faithful map must beat).
    methods: list[Method] = Field(
        default=["finite_difference", "gradient", "integrated_gradients", "random"],
        min_length=1)
    # Finite-difference step (as in §4.7).
    epsilon: float = Field(0.01, gt=0)
    # The pruned model compared with the dense one.
    level: float = Field(0.95, gt=0, lt=1)
    # Validation images per model.
    max_images: PositiveInt = 200
    # Points of each curve, evenly spaced over the share of the 784 pixels removed.
    points: int = Field(17, strict=True, ge=2, le=785)
    # Seed of the image subsample, the random attribution and the randomised model.
    seed: Seed = 0

    _pair = field_validator("pair", mode="before")(parse_pair)
