"""Companion paper B's config section: datasets, widths, methods and their settings."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from lowcap.run.config import ConfigSection, PositiveInt, Seed


class NarrowConfig(ConfigSection):
    """Companion paper B (Zhang et al. 2021): projected gradient methods on narrow networks."""

    # Synthetic Gaussian data and/or MNIST (4, 9) images.
    datasets: list[Literal["synthetic", "mnist"]] = Field(default=["synthetic", "mnist"],
                                                          min_length=1)
    # The σ_min study eigendecomposes an n × n Gram matrix: n is bounded to keep it in memory.
    samples: int = Field(1000, strict=True, ge=1, le=10_000)
    # Input dimension d of the synthetic data.
    synthetic_dim: int = Field(50, strict=True, ge=1, le=4096)
    # Widths as multiples of ⌈2n/d⌉.
    multipliers: list[float] = Field(default=[0.5, 1.0, 2.0, 4.0], min_length=1)
    # Training methods compared.
    methods: list[Literal["projected_gd", "projected_sgd", "projected_adam", "sgd", "adam"]] = (
        Field(default=["projected_gd", "projected_sgd", "projected_adam", "sgd", "adam"],
              min_length=1))
    # Radii are multiples of ‖W0‖_F; every method gets its best (radius, lr) by final loss.
    radii: list[Annotated[float, Field(gt=0)]] = Field(default=[0.5, 2.0, 8.0], min_length=1)
    # Seeds of every (method, width, radius, learning rate).
    seeds: list[Seed] = Field(default=[0, 1, 2], min_length=1)
    # Training steps per run.
    steps: PositiveInt = 400
    # Learning rates of the gradient-descent methods.
    lrs: list[Annotated[float, Field(gt=0)]] = Field(default=[10.0, 100.0], min_length=1)
    # Learning rates of the Adam methods.
    adam_lrs: list[Annotated[float, Field(gt=0)]] = Field(default=[0.01, 0.1], min_length=1)
    # Mini-batch size of the stochastic methods.
    batch_size: PositiveInt = 100
    # The smooth activation σ.
    activation: Literal["tanh", "softplus", "gelu"] = "tanh"

    @field_validator("multipliers")
    @classmethod
    def _multipliers(cls, values: list[float]) -> list[float]:
        for value in values:
            if not 0 < value <= 64:
                raise ValueError(f"width multiplier {value} must be in (0, 64]")
        return values
