"""What a study trains: model plans keyed by a hash of everything that determines them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from itertools import product
from typing import Any

from lowcap.data.tasks import pair_key
from lowcap.run.config import Pair, ProtocolConfig, RunConfig
from lowcap.training.hyperparameters import Hyperparameters

# A plan's fields beside its hyperparameters, in the order its record lists them.
_GRID_AXES = ("protocol", "pair", "hidden", "lr", "seed")


@dataclass(frozen=True)
class ModelPlan:
    """One model to train. Equal plans are the same model: trained once, shared by studies."""

    protocol: str
    pair: Pair
    hidden: int
    lr: float
    seed: int
    hp: Hyperparameters

    @cached_property  # hashed once: studies look ids up thousands of times
    def model_id(self) -> str:
        """A short hash of the plan's grid axes and naming hyperparameters (its name in the
        store and checkpoints/)."""
        values = {**self._grid_axes(), **self.hp.named()}
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]

    def record(self) -> dict[str, Any]:
        """The plan as one flat mapping (stored beside each model and in its checkpoint)."""
        return {**self._grid_axes(), **asdict(self.hp)}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ModelPlan:
        """The plan a `record()` describes (fields added since it was written: defaults)."""
        axes = {name: record[name] for name in _GRID_AXES}
        hp = {k: v for k, v in record.items() if k in Hyperparameters.__dataclass_fields__}
        return cls(**{**axes, "pair": tuple(axes["pair"])}, hp=Hyperparameters(**hp))

    def _grid_axes(self) -> dict[str, Any]:
        """The fields beside `hp`, as JSON writes them (the pair as a list)."""
        return {name: list(self.pair) if name == "pair" else getattr(self, name)
                for name in _GRID_AXES}

    def with_hp(self, **changes: Any) -> ModelPlan:
        """This plan with some hyperparameters changed."""
        return replace(self, hp=replace(self.hp, **changes))

    @property
    def pair_key(self) -> str:
        return pair_key(self.pair)

    def lane_key(self) -> tuple:
        """Models with the same lane key share a split and a batch order: the data (dataset,
        pair, seed) and the hyperparameters shared by a lane."""
        return (self.hp.dataset, self.pair, self.seed, *self.hp.shared_by("lane"))

    def cohort_key(self) -> tuple:
        """Models with the same cohort key can train in one tensor program. Models trained on
        PGD inputs train one per lane (`layout`), so a cohort holds one width: lanes of
        several widths would each be padded to the widest (three times the units on the
        paper's widths)."""
        own_width = (self.hidden,) if self.hp.pgd is not None else ()
        return (*self.hp.shared_by("cohort"), *own_width)


def datasets_of(plans: Iterable[ModelPlan]) -> set[str]:
    """The datasets these plans train on (MNIST where there are none: the paper's analyses
    and companion studies read it)."""
    return {plan.hp.dataset for plan in plans} or {"mnist"}


def grid(cfg: RunConfig, protocol: ProtocolConfig, pairs: list[Pair],
         widths: list[int], lrs: list[float]) -> list[ModelPlan]:
    """Plans for pairs × widths × learning rates × the protocol's seeds."""
    hp = Hyperparameters.of(protocol, cfg, batch_size=protocol.batch,
                            budget_batch_size=protocol.budget)
    return [ModelPlan(protocol.name, tuple(pair), h, lr, seed, hp)  # type: ignore[arg-type]
            for pair, h, lr, seed in product(pairs, widths, lrs, protocol.seeds)]
