"""The protocol ablation's config section: the factors, their levels, the grid and the analyses
each cell runs."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from lowcap.data.tasks import pair_key
from lowcap.run.config import ConfigSection, Pair, PositiveInt, parse_pairs

# The two protocols differ in these four ways at once; each factor has two named levels, each
# level a set of protocol fields (or run fields: lr, epochs, activation).
DEFAULT_FACTORS: dict[str, dict[str, dict[str, Any]]] = {
    "optimiser": {"full_batch": {"batch_size": "full"}, "sgd_128": {"batch_size": 128}},
    "init": {"normal": {"init": "normal", "init_std": 0.1}, "kaiming": {"init": "kaiming_uniform"}},
    "balance": {"balanced": {"balance": True}, "natural": {"balance": False}},
    "budget": {"updates_100": {"budget_batch_size": "full"},
               "sgd_epochs_100": {"budget_batch_size": 128}},
}
# What every cell measures: each study's section overrides (capacity's rule, the pruning
# levels, the dead-neuron models, the robustness models) on the ablation's grid.
DEFAULT_ANALYSES: dict[str, dict[str, Any]] = {
    "capacity": {},
    "linear_baseline": {},
    "pruning": {"levels": [0.5, 0.7, 0.9, 0.95, 0.99], "methods": ["layerwise"],
                "rounding": ["floor"]},
    "dead_neurons": {"models": [[0, 1, 16], [3, 8, 16], [4, 9, 24]]},
    "robustness": {"pair": [4, 9], "widths": [24, 64], "mnist_c": [], "mnist_c_parity": []},
}
RUN_FIELDS = {"lr", "epochs", "activation"}  # run settings a level may change
NAME = re.compile(r"^[a-z0-9_]{1,32}$")


class RunOverrides(ConfigSection):
    """The run settings a factor level may change."""

    lr: float | None = Field(None, gt=0)
    epochs: PositiveInt | None = None
    activation: Literal["relu", "tanh"] | None = None


class AblationConfig(ConfigSection):
    """The protocol ablation: a full factorial design over protocol choices; every cell is an
    ordinary protocol, trained as cohorts and measured by the paper's analyses, and each
    claim's verdict is explained by the factors' main effects."""

    # The protocol every cell starts from (its seeds, draws and float type): a level changes
    # only the fields it names.
    base: Literal["reference", "corrected"] = "corrected"
    # Protocol fields set in every cell and in the anchors (the run's protocols on this grid).
    # 1,024 training images per pair keep the long budget's full-batch GD within a CPU's
    # minutes; {} trains on whole pairs (a GPU's job: ~1 PFLOP for the default grid).
    protocol: dict[str, Any] = {"train_size": 1024}
    # Digit pairs of the grid.
    pairs: list[Pair] = Field(default=[(0, 1), (3, 8), (4, 9)], min_length=1)
    # Hidden widths of the grid (width 1 on purpose: is "minimum capacity 2" a grid floor?).
    widths: list[PositiveInt] = Field(default=[1, 2, 4, 8, 16, 24, 64], min_length=1)
    # factor → level name → the protocol fields (or lr / epochs / activation) it sets; two
    # levels each, the first the reference-like one.
    factors: dict[str, dict[str, dict[str, Any]]] = DEFAULT_FACTORS
    # Only these factors vary (unset: all); the others stay at their first level.
    vary: list[str] | None = None
    # study → its section's fields in every cell (capacity: the min-capacity rule).
    analyses: dict[str, dict[str, Any]] = DEFAULT_ANALYSES

    _pairs = field_validator("pairs", mode="before")(parse_pairs)

    @field_validator("factors")
    @classmethod
    def _factors(cls, factors: dict) -> dict:
        if not factors:
            raise ValueError("no factor: the grid would have one cell; name at least one factor "
                             "with two levels")
        for factor, levels in factors.items():
            if not NAME.match(factor):
                raise ValueError(f"factor {factor!r}: use lower-case letters, digits and '_'")
            if len(levels) != 2:
                raise ValueError(f"factor {factor!r} has {len(levels)} level(s) "
                                 f"({', '.join(levels) or 'none'}); give it exactly two")
            for level, fields in levels.items():
                if not NAME.match(level):
                    raise ValueError(f"level {factor}.{level!r}: use lower-case letters, digits "
                                     "and '_'")
                if not isinstance(fields, dict) or not fields:
                    raise ValueError(f"level {factor}.{level}: give the fields it sets, e.g. "
                                     "{batch_size: full}")
        return factors

    @model_validator(mode="after")
    def _varied_factors_exist(self) -> AblationConfig:
        for factor in self.vary or []:
            if factor not in self.factors:
                raise ValueError(f"vary: unknown factor {factor!r}; the config's factors are "
                                 f"{', '.join(self.factors)}")
        if self.vary is not None and not self.vary:
            raise ValueError("vary: no factor varies, so the grid would have one cell")
        return self

    def varied(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The factors that vary, with their levels."""
        return {f: v for f, v in self.factors.items() if self.vary is None or f in self.vary}

    def fixed(self) -> dict[str, str]:
        """Each factor that does not vary, at its first level."""
        return {f: next(iter(v)) for f, v in self.factors.items() if f not in self.varied()}

    @model_validator(mode="after")
    def _resolvable(self) -> AblationConfig:
        """Every cell is a valid protocol and every analysis a valid section (checked here, so
        a bad level fails before anything is written)."""
        from lowcap.studies.ablation.design import check_design  # the registry's studies

        check_design(self)
        return self

    def pair_keys(self) -> list[str]:
        return [pair_key(p) for p in self.pairs]
