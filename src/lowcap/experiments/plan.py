"""What a phase trains: model plans keyed by a hash of everything that determines them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import cached_property
from itertools import product

import torch

from lowcap.data.tasks import pair_key
from lowcap.experiments.config import ExperimentConfig, Pair, ProtocolConfig
from lowcap.models.mlp import InitSpec

# Plan fields added after stores existed, with their defaults (see ModelPlan.model_id).
_LATER_DEFAULTS = {"draws": "lowcap", "dtype": "float32"}


@dataclass(frozen=True)
class ModelPlan:
    """One model to train. Equal plans are the same model: trained once, shared by phases."""

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

    @cached_property  # hashed once: phases look ids up thousands of times
    def model_id(self) -> str:
        """A short hash of the plan (its name in the store and checkpoints/). Fields added
        after runs existed count only when they differ from their defaults, so adding one
        keeps every stored model's id."""
        fields = {k: v for k, v in asdict(self).items()
                  if k not in _LATER_DEFAULTS or _LATER_DEFAULTS[k] != v}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def pair_key(self) -> str:
        return pair_key(self.pair)

    @property
    def init_spec(self) -> InitSpec:
        scheme = "paper_code" if self.draws == "paper_code" else self.init
        return InitSpec(scheme, self.init_std)  # type: ignore[arg-type]

    def lane_key(self) -> tuple:
        """Models with the same lane key share a split and a batch order."""
        return (self.pair, self.seed, self.balance, self.val_fraction, self.labels, self.draws)

    def cohort_key(self) -> tuple:
        """Models with the same cohort key can train in one tensor program."""
        return (self.epochs, self.batch_size, self.activation, self.matmul_precision, self.dtype)

    @property
    def torch_dtype(self) -> torch.dtype:
        """The float type the model trains in."""
        return getattr(torch, self.dtype)


def grid(cfg: ExperimentConfig, protocol: ProtocolConfig, pairs: list[Pair],
         widths: list[int], lrs: list[float]) -> list[ModelPlan]:
    """Plans for pairs × widths × learning rates × the protocol's seeds."""
    return [
        ModelPlan(
            protocol=protocol.name, pair=tuple(pair), hidden=h, lr=lr, seed=seed,  # type: ignore[arg-type]
            epochs=cfg.epochs, batch_size=protocol.batch, init=protocol.init,
            init_std=protocol.init_std, balance=protocol.balance,
            val_fraction=protocol.val_fraction, activation=cfg.activation,
            matmul_precision=cfg.matmul_precision, draws=protocol.draws,
            dtype=protocol.dtype,
        )
        for pair, h, lr, seed in product(pairs, widths, lrs, protocol.seeds)
    ]
