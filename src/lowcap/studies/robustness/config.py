"""§4.6's config section: the models evaluated and the corruptions applied."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from lowcap.run.config import ConfigSection, Pair, PositiveInt, Seed, parse_pair
from lowcap.studies.selection import ModelFilter


class RobustnessConfig(ConfigSection):
    """§4.6: Gaussian noise, occlusion and MNIST-C-style corruptions of the test images."""

    # Which trained models it reads (default: the capacity sweep's).
    select: ModelFilter = ModelFilter()
    # Pair of the models evaluated.
    pair: Pair = (4, 9)
    # Widths of the models evaluated.
    widths: list[PositiveInt] = Field(default=[24, 48, 64], min_length=1)
    # Standard deviations of the Gaussian noise added to the test images.
    sigmas: list[float] = Field(default=[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0],
                                min_length=1)
    # Side of the square occluder, in pixels.
    occlusion_size: int = Field(7, strict=True, ge=1, le=28)
    # MNIST-C-style corruptions applied.
    mnist_c: list[Literal["shot_noise", "impulse_noise", "gaussian_blur", "shift", "rotation",
                          "brightness", "stripe"]] = [
        "shot_noise", "impulse_noise", "gaussian_blur", "shift", "rotation", "brightness",
        "stripe"]
    # MNIST-C as published (Mu & Gilmer 2019): these of its 15 corruptions, each made as its
    # code makes it at that code's default severity; reported with the clean F1 and the mean
    # over them per width ([] to skip).
    mnist_c_parity: list[Literal[
        "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "scale", "rotate",
        "brightness", "translate", "stripe", "fog", "spatter", "dotted_line", "zigzag",
        "canny_edges"]] = [
        "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "scale", "rotate",
        "brightness", "translate", "stripe", "fog", "spatter", "dotted_line", "zigzag",
        "canny_edges"]
    # Severities (1–5) of each MNIST-C-style corruption.
    severities: list[Annotated[int, Field(strict=True, ge=1, le=5)]] = [1, 2, 3, 4, 5]
    # Seed of the noise and occluder positions.
    seed: Seed = 0
    # The practical threshold, in test F1: a width effect the statistics support but smaller
    # than this is reported as negligible, and a trend over widths whose range stays below it
    # as flat.
    min_effect: float = Field(0.01, ge=0)

    _pair = field_validator("pair", mode="before")(parse_pair)

    @field_validator("sigmas")
    @classmethod
    def _sigmas(cls, values: list[float]) -> list[float]:
        for sigma in values:
            if sigma < 0:
                raise ValueError(f"noise σ {sigma} must be ≥ 0")
        return values
