"""§4.7's config section: the model explained, the pruning level and the map settings."""

from __future__ import annotations

from pydantic import Field, field_validator

from lowcap.run.config import ConfigSection, Pair, PositiveInt, Seed, parse_pair


class SaliencyConfig(ConfigSection):
    """§4.7: saliency maps of one model, dense vs pruned, and their agreement."""

    pair: Pair = (4, 9)
    hidden: PositiveInt = 24
    epsilon: float = Field(0.01, gt=0)
    level: float = Field(0.95, gt=0, lt=1)
    max_images: PositiveInt = 500
    top_k: int = Field(50, strict=True, ge=1, le=784)  # of the 784 pixels
    seed: Seed = 0

    _pair = field_validator("pair", mode="before")(parse_pair)
