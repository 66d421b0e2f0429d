"""The Novak-scale sensitivity study's config section: the factor grid and the probes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from lowcap.data.datasets import facts
from lowcap.run.config import (
    ConfigSection,
    Pair,
    PositiveInt,
    Seed,
    known_dataset,
    parse_pairs,
    positive_lrs,
)

Optimiser = Literal["sgd", "momentum", "adam"]


class SensitivityScaleConfig(ConfigSection):
    """Novak et al. (2018) at their scale: thousands of models over a grid of factors, each
    measured for its test-point Jacobian norm, its transitions and its generalization gap.

    Every combination of datasets × pairs × depths × widths × optimisers × batch sizes ×
    augmentation × labels × seeds is one model; the rest of its protocol is the corrected one
    (Kaiming-uniform init, unbalanced 80/20 split, float32)."""

    # Datasets the models learn (each pair is a class pair of each dataset).
    datasets: list[str] = Field(default=["mnist", "digits"], min_length=1)
    # Class pairs of every dataset.
    pairs: list[Pair] = Field(default=[(4, 9), (3, 8)], min_length=1)
    # Hidden layers of the models (1 to 3).
    depths: list[Literal[1, 2, 3]] = Field(default=[1, 2, 3], min_length=1)
    # Hidden widths (every hidden layer of a model has this width).
    widths: list[PositiveInt] = Field(default=[8, 16, 32, 64], min_length=1)
    # Optimisers (lowcap.models.optimisers; momentum 0.9, Adam's default betas).
    optimisers: list[Optimiser] = Field(default=["sgd", "adam"], min_length=1)
    # Learning rate of each optimiser.
    learning_rates: dict[Optimiser, float] = {"sgd": 0.05, "momentum": 0.01, "adam": 0.002}
    # Mini-batch sizes, or full for full-batch gradient descent.
    batch_sizes: list[PositiveInt | Literal["full"]] = Field(default=[128, "full"],
                                                              min_length=1)
    # Every model makes the updates of one pass at this batch size per epoch, full-batch
    # models too (an update budget: gradient descent is not starved of steps). Unset: full
    # batch makes one update per epoch.
    budget_batch_size: PositiveInt | None = 128
    # Augmentation off and/or on (shifts and turns; image datasets only).
    augment: list[bool] = Field(default=[False, True], min_length=1)
    # True training labels and/or random ones (Novak et al.'s memorising models).
    labels: list[Literal["true", "random"]] = Field(default=["true", "random"], min_length=1)
    # Seeds: one model per seed for every combination.
    seeds: list[Seed] = Field(default=[0, 1, 2], min_length=1)
    # Epochs every model trains for.
    epochs: PositiveInt = 20
    # Training images per split (a stratified draw by the seed; unset: all of them).
    train_size: PositiveInt | None = 1000
    # Train and test points each Jacobian norm is averaged over.
    points: PositiveInt = 200
    # Ellipses through three training points, per split.
    ellipses: int = Field(3, strict=True, ge=1, le=1000)
    # Points along each ellipse (transitions are also counted at twice as many).
    trajectory_points: int = Field(512, strict=True, ge=16, le=65536)
    # Bootstrap resamples of the correlations' intervals.
    bootstrap: int = Field(1000, strict=True, ge=1, le=100_000)
    # Seed of the probes (points, noise, ellipses) and of the bootstrap.
    seed: Seed = 0

    _pairs = field_validator("pairs", mode="before")(parse_pairs)

    @field_validator("datasets")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        return [known_dataset(name) for name in names]

    @field_validator("learning_rates")
    @classmethod
    def _positive(cls, rates: dict[str, float]) -> dict[str, float]:
        positive_lrs(list(rates.values()))
        return rates

    @model_validator(mode="after")
    def _consistent(self) -> SensitivityScaleConfig:
        missing = [o for o in self.optimisers if o not in self.learning_rates]
        if missing:
            raise ValueError(f"learning_rates has no rate for optimiser(s) {missing}")
        if True in self.augment:
            signals = [d for d in self.datasets if not facts(d).is_image]
            if signals:
                raise ValueError(f"augment: true needs image datasets; {signals} hold signals "
                                 "(set augment: [false] or drop them)")
        return self
