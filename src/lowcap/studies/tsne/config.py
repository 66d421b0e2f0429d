"""§4.5's config section: the model embedded, the pruning level and t-SNE's settings."""

from __future__ import annotations

from pydantic import Field, field_validator

from lowcap.run.config import ConfigSection, Pair, PositiveInt, Seed, parse_pair
from lowcap.studies.selection import ModelFilter


class TSNEConfig(ConfigSection):
    """§4.5: t-SNE of one model's hidden activations before and after pruning."""

    # Which trained models it reads (default: the capacity sweep's).
    select: ModelFilter = ModelFilter()
    # Pair of the model embedded (its smallest seed is used).
    pair: Pair = (4, 9)
    # Width of the model embedded.
    hidden: PositiveInt = 24
    # Pruning level of the pruned embedding.
    level: float = Field(0.95, gt=0, lt=1)
    # t-SNE perplexity.
    perplexity: float = Field(30.0, gt=1)
    max_points: int = Field(1000, strict=True, ge=50)  # 5-fold 10-NN needs some points
    # Seed of the point subsample and of the first t-SNE run.
    seed: Seed = 0
    # t-SNE runs per view (seeds seed, seed+1, …): one embedding's randomness is part of the
    # statistic, so the claim's interval resamples the runs together with the points.
    embeddings: int = Field(5, strict=True, ge=1, le=50)

    _pair = field_validator("pair", mode="before")(parse_pair)
