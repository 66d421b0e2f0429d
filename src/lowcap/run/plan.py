"""What a study trains: model plans keyed by a hash of everything that determines them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import MISSING, Field, asdict, dataclass, fields
from functools import cached_property
from itertools import product
from typing import Any

import torch

from lowcap.data.tasks import pair_key
from lowcap.models.mlp import InitSpec
from lowcap.models.optimisers import OptimiserSpec
from lowcap.run.config import Pair, ProtocolConfig, RunConfig

# The fields of the first stores' plans: hashed whatever their value. Every other field
# counts only where it differs from its default (see ModelPlan.model_id).
_FIRST_FIELDS = frozenset({
    "protocol", "pair", "hidden", "lr", "seed", "epochs", "batch_size", "init", "init_std",
    "balance", "val_fraction", "activation", "labels", "matmul_precision"})


@dataclass(frozen=True)
class ModelPlan:
    """One model to train. Equal plans are the same model: trained once, shared by studies."""

    protocol: str
    pair: Pair
    hidden: int
    lr: float
    seed: int
    epochs: int
    batch_size: int | None
    init: str
    init_std: float
    balance: bool
    val_fraction: float
    activation: str
    labels: str = "true"
    matmul_precision: str = "highest"
    draws: str = "lowcap"
    dtype: str = "float32"
    # Updates per epoch: one pass at this batch size ('own': the plan's; None: full batch).
    budget_batch_size: int | str | None = "own"
    # At most this many training images (None: the whole training split).
    train_size: int | None = None
    # Random shifts and rotations of the training images (lowcap.training.augment).
    augment: bool = False
    # The optimiser and its hyper-parameters (lowcap.models.optimisers).
    optimiser: str = "sgd"
    momentum: float = 0.9
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    weight_decay: float = 0.0
    # The dataset the pair's classes come from (lowcap.data.datasets).
    dataset: str = "mnist"
    # Hidden layers of `hidden` units each (lowcap.models.cohort: block-diagonal beyond one).
    depth: int = 1

    @cached_property  # hashed once: studies look ids up thousands of times
    def model_id(self) -> str:
        """A short hash of the plan (its name in the store and checkpoints/). A field added
        with a default counts only where a plan's value differs from it (as in open_lth), so
        adding one keeps every stored model's id."""
        hashed = {f.name for f in fields(self)
                  if f.name in _FIRST_FIELDS or _default(f) is MISSING
                  or getattr(self, f.name) != _default(f)}
        values = {k: v for k, v in asdict(self).items() if k in hashed}
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def pair_key(self) -> str:
        return pair_key(self.pair)

    @property
    def init_spec(self) -> InitSpec:
        scheme = "paper_code" if self.draws == "paper_code" else self.init
        return InitSpec(scheme, self.init_std)  # type: ignore[arg-type]

    @property
    def optimiser_spec(self) -> OptimiserSpec:
        return OptimiserSpec(self.optimiser, self.momentum, self.adam_beta1,  # type: ignore[arg-type]
                             self.adam_beta2, self.weight_decay)

    def lane_key(self) -> tuple:
        """Models with the same lane key share a split and a batch order."""
        return (self.dataset, self.pair, self.seed, self.balance, self.val_fraction,
                self.labels, self.draws, self.train_size, self.augment)

    def cohort_key(self) -> tuple:
        """Models with the same cohort key can train in one tensor program."""
        return (self.dataset, self.depth, self.epochs, self.batch_size, self.activation,
                self.matmul_precision, self.dtype, self.budget_batch_size)

    @property
    def torch_dtype(self) -> torch.dtype:
        """The float type the model trains in."""
        return getattr(torch, self.dtype)


def datasets_of(plans: Iterable[ModelPlan]) -> set[str]:
    """The datasets these plans train on (MNIST where there are none: the paper's analyses
    and companion studies read it)."""
    return {plan.dataset for plan in plans} or {"mnist"}


def _default(f: Field) -> Any:
    """A dataclass field's default (made by its factory where it has one), or MISSING."""
    if f.default_factory is not MISSING:
        return f.default_factory()
    return f.default


def grid(cfg: RunConfig, protocol: ProtocolConfig, pairs: list[Pair],
         widths: list[int], lrs: list[float]) -> list[ModelPlan]:
    """Plans for pairs × widths × learning rates × the protocol's seeds."""
    return [
        ModelPlan(
            protocol=protocol.name, pair=tuple(pair), hidden=h, lr=lr, seed=seed,  # type: ignore[arg-type]
            epochs=cfg.epochs, batch_size=protocol.batch, init=protocol.init,
            init_std=protocol.init_std, balance=protocol.balance,
            val_fraction=protocol.val_fraction, activation=cfg.activation,
            matmul_precision=cfg.matmul_precision, draws=protocol.draws,
            dtype=protocol.dtype, budget_batch_size=protocol.budget,
            train_size=protocol.train_size, augment=protocol.augment,
            optimiser=protocol.optimiser, momentum=protocol.momentum,
            adam_beta1=protocol.adam_beta1, adam_beta2=protocol.adam_beta2,
            weight_decay=protocol.weight_decay, dataset=protocol.dataset, depth=protocol.depth,
        )
        for pair, h, lr, seed in product(pairs, widths, lrs, protocol.seeds)
    ]
