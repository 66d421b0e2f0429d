"""The calibration study's config section."""

from __future__ import annotations

from pydantic import Field

from lowcap.run.config import ConfigSection
from lowcap.studies.selection import ModelFilter


class CalibrationConfig(ConfigSection):
    """Calibration of every selected model's test-set probabilities, dense and pruned: are
    wider networks worse calibrated (Guo et al. 2017)?"""

    # Which trained models it reads (default: the capacity sweep's).
    select: ModelFilter = ModelFilter()
    # Bins of the expected calibration error (equal-width bins of [0, 1], and as many
    # equal-mass bins) and of the reliability diagram.
    bins: int = Field(15, strict=True, ge=2, le=100)
    # The pruning level (layerwise magnitude) whose calibration is measured beside the dense
    # model's.
    level: float = Field(0.95, gt=0, lt=1)
    # The practical threshold, in ECE: a width effect the statistics support but smaller than
    # this is reported as negligible.
    min_effect: float = Field(0.005, ge=0)
