"""How a model is trained, apart from the grid's axes: one frozen dataclass, one field per
hyperparameter. A new hyperparameter is one field here: the plans take it from the protocol
(or the run config) by its name, it names new models only where it differs from its default,
and its `shared_by` says which models may train together when they differ in it."""

from __future__ import annotations

from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, Literal

import torch

from lowcap.models.mlp import InitSpec
from lowcap.models.optimisers import OptimiserSpec
from lowcap.models.pgd import PGDSpec

# Which models share a value: "model" (each model of a cohort has its own), "lane" (models
# differing in it train in one cohort, on separate splits and batch orders) or "cohort"
# (models differing in it never train together; the safe choice for a new hyperparameter).
Sharing = Literal["model", "lane", "cohort"]


def hyperparameter(default: Any = MISSING, *, shared_by: Sharing = "cohort",
                   always_named: bool = False, keyed_when_set: bool = False) -> Any:
    """A Hyperparameters field. `always_named`: part of every model id whatever its value
    (the fields of the first stores); any other field names a model only where its value
    differs from its default, so adding one keeps every stored model's id (as in open_lth).
    `keyed_when_set`: in the lane or cohort key (`shared_by`) only where it differs from its
    default, as (name, value), so that a field added to a key keeps every stored key (the
    linear baseline names its splits by a hash of the lane key)."""
    return field(default=default, metadata={"shared_by": shared_by,
                                            "always_named": always_named,
                                            "keyed_when_set": keyed_when_set})


@dataclass(frozen=True)
class Hyperparameters:
    """Everything that determines how a model trains except its pair, width, learning rate
    and seed (the grid's axes, on `ModelPlan`)."""

    epochs: int = hyperparameter(always_named=True)
    batch_size: int | None = hyperparameter(always_named=True)  # None: full batch
    init: str = hyperparameter(shared_by="model", always_named=True)
    init_std: float = hyperparameter(shared_by="model", always_named=True)
    balance: bool = hyperparameter(shared_by="lane", always_named=True)
    val_fraction: float = hyperparameter(shared_by="lane", always_named=True)
    activation: str = hyperparameter(always_named=True)
    labels: str = hyperparameter("true", shared_by="lane", always_named=True)
    matmul_precision: str = hyperparameter("highest", always_named=True)
    # Whose random draws make the split and the initial weights (lowcap.data.tasks.Draws).
    draws: str = hyperparameter("lowcap", shared_by="lane")
    dtype: str = hyperparameter("float32")
    # Updates per epoch: one pass at this batch size ('own': the plan's; None: full batch).
    budget_batch_size: int | str | None = hyperparameter("own")
    # At most this many training images (None: the whole training split).
    train_size: int | None = hyperparameter(None, shared_by="lane")
    # Random shifts and rotations of the training images (lowcap.training.augment).
    augment: bool = hyperparameter(False, shared_by="lane")
    # The fraction of training labels flipped, drawn per seed (lowcap.run.split).
    label_noise: float = hyperparameter(0.0, shared_by="lane", keyed_when_set=True)
    # The optimiser and its hyper-parameters (lowcap.models.optimisers).
    optimiser: str = hyperparameter("sgd", shared_by="model")
    momentum: float = hyperparameter(0.9, shared_by="model")
    adam_beta1: float = hyperparameter(0.9, shared_by="model")
    adam_beta2: float = hyperparameter(0.999, shared_by="model")
    weight_decay: float = hyperparameter(0.0, shared_by="model")
    # The dataset the pair's classes come from (lowcap.data.datasets).
    dataset: str = hyperparameter("mnist")
    # Hidden layers of `hidden` units each (lowcap.models.cohort: block-diagonal beyond one).
    depth: int = hyperparameter(1)
    # Training on worst-case inputs (Madry et al. 2018; lowcap.models.pgd): every update on its
    # batch moved by `pgd_steps` projected gradient steps of `pgd_step_size` within the
    # `pgd_norm` ball ('linf' or 'l2') of radius `pgd_eps` (None: the batch as it is).
    pgd_norm: str | None = hyperparameter(None)
    pgd_eps: float = hyperparameter(0.0)
    pgd_steps: int = hyperparameter(0)
    pgd_step_size: float = hyperparameter(0.0)
    # Validation and test metrics every this many epochs and after the last (the epochs
    # between record NaN): a study that reads only the final models skips the evaluation
    # passes, which on large test splits cost more than full-batch steps on a few samples.
    evaluate_every: int = hyperparameter(1, keyed_when_set=True)

    @classmethod
    def of(cls, *sources: object, **values: Any) -> Hyperparameters:
        """Each field from `values`, else from the first source with an attribute of its
        name (a protocol config before the run config), else its default."""
        taken = dict(values)
        for f in fields(cls):
            source = next((s for s in sources if hasattr(s, f.name)), None)
            if f.name not in taken and source is not None:
                taken[f.name] = getattr(source, f.name)
        return cls(**taken)

    def shared_by(self, sharing: Sharing) -> tuple:
        """The values of the fields shared by `sharing`, in declaration order (a
        `keyed_when_set` field as (name, value), and only where it is set)."""
        kept = [f for f in fields(self) if f.metadata.get("shared_by", "cohort") == sharing]
        return (*(getattr(self, f.name) for f in kept if not f.metadata.get("keyed_when_set")),
                *((f.name, getattr(self, f.name)) for f in kept
                  if f.metadata.get("keyed_when_set") and getattr(self, f.name) != _default(f)))

    def named(self) -> dict[str, Any]:
        """The fields that name a model: the always-named ones and any other that differs
        from its default."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.metadata.get("always_named") or _default(f) is MISSING
                or getattr(self, f.name) != _default(f)}

    @property
    def init_spec(self) -> InitSpec:
        scheme = "paper_code" if self.draws == "paper_code" else self.init
        return InitSpec(scheme, self.init_std)  # type: ignore[arg-type]

    @property
    def optimiser_spec(self) -> OptimiserSpec:
        return OptimiserSpec(self.optimiser, self.momentum, self.adam_beta1,  # type: ignore[arg-type]
                             self.adam_beta2, self.weight_decay)

    @property
    def pgd(self) -> PGDSpec | None:
        """The inner maximisation of training on worst-case inputs (None: natural training)."""
        if self.pgd_norm is None:
            return None
        return PGDSpec(self.pgd_norm, self.pgd_eps, self.pgd_steps,  # type: ignore[arg-type]
                       self.pgd_step_size)

    @property
    def torch_dtype(self) -> torch.dtype:
        """The float type the model trains in."""
        return getattr(torch, self.dtype)


def defaults() -> dict[str, Any]:
    """Each field's default, for the fields that have one (a stored model written before a
    field existed trained with its default)."""
    return {f.name: _default(f) for f in fields(Hyperparameters) if _default(f) is not MISSING}


def _default(f: Field) -> Any:
    """A dataclass field's default (made by its factory where it has one), or MISSING."""
    if f.default_factory is not MISSING:
        return f.default_factory()
    return f.default
