"""The double-descent study's config section and the models it trains."""

from __future__ import annotations

from dataclasses import replace
from itertools import product
from typing import Literal

from pydantic import Field, field_validator

from lowcap.run.config import (
    ConfigSection,
    Pair,
    PositiveInt,
    ProtocolConfig,
    RunConfig,
    known_dataset,
    parse_pairs,
)
from lowcap.run.plan import ModelPlan
from lowcap.studies.base import section
from lowcap.training.hyperparameters import Hyperparameters


class DoubleDescentConfig(ConfigSection):
    """Model-wise double descent (Nakkiran et al. 2019): test error against width, across the
    interpolation threshold (parameters ≈ training samples), with and without label noise."""

    # Whose seeds and initialisation the models take (its other settings are replaced below).
    protocol: Literal["reference", "corrected"] = "corrected"
    # The datasets: mnist1d (40 values per sample), mnist_pca (MNIST on its first 32
    # principal components), so that the threshold falls at small widths, or any other the
    # protocols accept.
    datasets: list[str] = Field(["mnist1d"], min_length=1)
    # Class pairs, learnt on each dataset.
    pairs: list[Pair] = [(3, 5)]
    # Fractions of training labels flipped (0: none).
    label_noise: list[float] = Field([0.0, 0.2], min_length=1)
    # Training samples n (each a stratified draw from the pair's training split).
    train_sizes: list[PositiveInt] = Field([200], min_length=1)
    # Widths, spanning parameters ≈ n.
    widths: list[PositiveInt] = Field([1, 2, 3, 4, 6, 8, 12, 16, 32, 64, 128], min_length=2)
    # Full-batch Adam epochs: long enough for the wide models to fit every (noisy) label.
    epochs: PositiveInt = 2000
    # Adam's learning rate.
    lr: float = Field(0.01, gt=0)
    # The practical threshold, in test error: a peak the statistics support but lower than
    # this is reported as negligible.
    min_effect: float = Field(0.02, ge=0)

    @field_validator("datasets")
    @classmethod
    def _datasets(cls, value: list[str]) -> list[str]:
        return [known_dataset(name) for name in value]

    _pairs = field_validator("pairs", mode="before")(parse_pairs)

    @field_validator("label_noise")
    @classmethod
    def _noise(cls, value: list[float]) -> list[float]:
        if any(not 0 <= v <= 0.5 for v in value):
            raise ValueError(f"label_noise {value}: each fraction lies in [0, 0.5]")
        return value


def plans(cfg: RunConfig, protocol: ProtocolConfig) -> list[ModelPlan]:
    """Datasets × pairs × label noise × training sizes × widths × the protocol's seeds,
    trained by full-batch Adam (none without the section, or under another protocol)."""
    spec = section(cfg, DoubleDescentConfig)
    if spec is None or protocol.name != spec.protocol:
        return []
    # Natural training without augmentation, whatever else the protocol trains with;
    # evaluated only after the last epoch (the study reads nothing else).
    hp = Hyperparameters.of(protocol, cfg, batch_size=None, budget_batch_size="own",
                            epochs=spec.epochs, optimiser="adam", draws="lowcap",
                            evaluate_every=spec.epochs, augment=False,
                            pgd_norm=None, pgd_eps=0.0, pgd_steps=0, pgd_step_size=0.0)
    return [ModelPlan(protocol.name, tuple(pair), width, spec.lr, seed,  # type: ignore[arg-type]
                      replace(hp, dataset=dataset, train_size=n, label_noise=noise))
            for dataset, pair, noise, n, width, seed in product(
                spec.datasets, spec.pairs, spec.label_noise, spec.train_sizes, spec.widths,
                protocol.seeds)]
