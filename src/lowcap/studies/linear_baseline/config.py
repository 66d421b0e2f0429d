"""The linear baseline's config section."""

from __future__ import annotations

from pydantic import Field

from lowcap.run.config import ConfigSection
from lowcap.studies.selection import ModelFilter


class LinearConfig(ConfigSection):
    """A logistic regression per pair on the same split as the MLPs, and whether the pair's
    training set is linearly separable at all (an exact LP)."""

    # Whose splits: those of the selected models (default: the capacity sweep's); one split
    # per pair, that of its smallest seed.
    select: ModelFilter = ModelFilter()
    # Inverse L2 strength of scikit-learn's LogisticRegression (its default, 1.0).
    c: float = Field(1.0, gt=0)
    # Iterations of its L-BFGS solver.
    max_iter: int = Field(2000, strict=True, ge=1)
    # Test each training split for linear separability (an LP: seconds per pair).
    separability: bool = Field(True, strict=True)
