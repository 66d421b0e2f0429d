"""§4.7's config section: the model explained, the pruning level and the map settings."""

from __future__ import annotations

from pydantic import Field, field_validator

from lowcap.run.config import ConfigSection, Pair, PositiveInt, Seed, parse_pair
from lowcap.studies.selection import ModelFilter


class SaliencyConfig(ConfigSection):
    """§4.7: saliency maps of one model, dense vs pruned, and their agreement."""

    # Which trained models it reads (default: the capacity sweep's).
    select: ModelFilter = ModelFilter()
    # Pair of the model explained (its smallest seed is used).
    pair: Pair = (4, 9)
    # Width of the model explained.
    hidden: PositiveInt = 24
    # Finite-difference step of the paper's saliency.
    epsilon: float = Field(0.01, gt=0)
    # Pruning level of the pruned model compared.
    level: float = Field(0.95, gt=0, lt=1)
    # Validation images the agreement is averaged over.
    max_images: PositiveInt = 500
    top_k: int = Field(50, strict=True, ge=1, le=784)  # of the 784 pixels
    # Seed of the image subsample and of random pruning.
    seed: Seed = 0

    _pair = field_validator("pair", mode="before")(parse_pair)
