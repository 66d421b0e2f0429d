"""The unit-information study's config section."""

from __future__ import annotations

from pydantic import Field

from lowcap.run.config import ConfigSection
from lowcap.studies.selection import ModelFilter


class UnitInformationConfig(ConfigSection):
    """Mutual information between each hidden unit's activation and the label, per model,
    before and after pruning: do small networks have more specialised units?"""

    # Which trained models it reads (default: the capacity sweep's).
    select: ModelFilter = ModelFilter()
    # Equal-width bins of a unit's activation range for the plug-in MI estimate.
    bins: int = Field(16, strict=True, ge=2, le=256)
    # The pruning level (layerwise magnitude) compared with the dense model.
    level: float = Field(0.95, gt=0, lt=1)
