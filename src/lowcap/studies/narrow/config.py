"""Companion paper B's config section: data, widths, the matched arms and their settings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from lowcap.run.config import ConfigSection, PositiveInt, Seed

Dataset = Literal["synthetic", "mnist", "mnist_random", "digits", "mnist1d"]
Method = Literal["sgd", "projected_sgd", "gd", "projected_gd", "adam", "projected_adam"]
Start = Literal["lecun", "mirrored"]

# The matched design: SGD and projected SGD from either start (the paper's baseline is plain
# SGD from LeCun's start, its method projected SGD from the mirrored one), and full-batch GD
# and Adam each beside its projected twin from the mirrored start.
DEFAULT_ARMS: list[tuple[Method, Start]] = [
    ("sgd", "lecun"), ("sgd", "mirrored"), ("projected_sgd", "lecun"),
    ("projected_sgd", "mirrored"), ("gd", "mirrored"), ("projected_gd", "mirrored"),
    ("adam", "mirrored"), ("projected_adam", "mirrored")]


class NarrowConfig(ConfigSection):
    """Companion paper B (Zhang et al. 2021): projected gradient methods on narrow networks,
    every projected arm beside its unconstrained twin at the same start, batch size, learning
    rates and step budget."""

    # synthetic: Gaussian inputs, N(0, 1) targets; mnist: (4, 9) images, ±1 labels;
    # mnist_random: the same images with shuffled labels (where SGD should fail to
    # interpolate); digits and mnist1d: their (4, 9) pairs.
    datasets: list[Dataset] = Field(default=["synthetic", "mnist", "mnist_random", "digits",
                                             "mnist1d"], min_length=1)
    # Training samples n per data set (fewer where a pair has fewer). The σ_min measurement
    # eigendecomposes an n × n Gram matrix, so n is bounded.
    samples: int = Field(1000, strict=True, ge=4, le=10_000)
    # Input dimension d of the synthetic data.
    synthetic_dim: int = Field(50, strict=True, ge=1, le=4096)
    # Widths: m = the even number nearest multiplier · 2n/d (at least 2); reported as the
    # real m / (2n/d).
    multipliers: list[float] = Field(default=[0.5, 1.0, 2.0, 4.0], min_length=1)
    # The arms compared, [method, start] each.
    arms: list[tuple[Method, Start]] = Field(default=DEFAULT_ARMS, min_length=1)
    # Radii R of the ball ‖W − W0‖_F ≤ R, as multiples of ‖W0‖_F; every projected arm gets
    # its best (radius, lr) by final loss, and the verdict asks it to lie inside the grid.
    radii: list[Annotated[float, Field(gt=0)]] = Field(default=[0.25, 1.0, 4.0, 16.0],
                                                       min_length=1)
    # Seeds of every setting; the verdict pairs runs by seed and needs at least 5.
    seeds: list[Seed] = Field(default=[0, 1, 2, 3, 4], min_length=1)
    # Training steps per run (every arm the same budget).
    steps: PositiveInt = 1200
    # Learning rates of SGD and GD (plain and projected).
    lrs: list[Annotated[float, Field(gt=0)]] = Field(default=[0.5, 2.0], min_length=1)
    # Learning rates of the Adam arms.
    adam_lrs: list[Annotated[float, Field(gt=0)]] = Field(default=[0.003, 0.03], min_length=1)
    # Mini-batch size of the stochastic arms.
    batch_size: PositiveInt = 100
    # The smooth activation σ.
    activation: Literal["tanh", "softplus", "gelu"] = "tanh"
    # The float type of training: float32 is about 2× faster here; float64 keeps tiny,
    # nearly tied settings from trading places between CPUs (the smoke profile uses it).
    # σ_min is computed in float64 either way.
    dtype: Literal["float32", "float64"] = "float32"
    # A run has converged when its training loss (½ mean squared error) is at most this; the
    # report gives the steps each arm needs to get there.
    loss_threshold: float = Field(0.01, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _arms_from_methods(cls, data: Any) -> Any:
        """A config of an earlier lowcap names `methods`, every one started mirrored: read it as
        those arms, so its run folders still open."""
        if isinstance(data, dict) and "methods" in data and "arms" not in data:
            methods = data["methods"]
            data = {k: v for k, v in data.items() if k != "methods"}
            data["arms"] = ([[m, "mirrored"] for m in methods] if isinstance(methods, list)
                            else methods)  # not a list: the arms' validation names it
        return data

    @field_validator("multipliers")
    @classmethod
    def _multipliers(cls, values: list[float]) -> list[float]:
        for value in values:
            if not 0 < value <= 64:
                raise ValueError(f"width multiplier {value} must be in (0, 64]")
        return values
