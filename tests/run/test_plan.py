"""Model plans: ids that never change, typed hyperparameters, one flat record."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from types import SimpleNamespace

from lowcap.run.plan import ModelPlan
from lowcap.training.hyperparameters import Hyperparameters, hyperparameter

HP = Hyperparameters(epochs=100, batch_size=128, init="kaiming_uniform", init_std=0.1,
                     balance=False, val_fraction=0.2, activation="relu")
PLAN = ModelPlan("corrected", (4, 9), 24, 0.03, 0, HP)


def test_model_id_is_stable():
    """The id of a plan stored by every earlier lowcap: changing the hashing orphans runs."""
    assert PLAN.model_id == "bb0714597ce1216c"


def test_the_default_dataset_keeps_every_model_id():
    plan = ModelPlan("corrected", (4, 9), 8, 0.03, 0, Hyperparameters(
        3, 128, "kaiming_uniform", 0.1, False, 0.2, "relu"))
    assert plan.model_id == "109cdc7a155e0e94"  # its id before datasets existed
    digits = plan.with_hp(dataset="digits")
    assert digits.model_id != plan.model_id
    assert digits.lane_key() != plan.lane_key() and digits.cohort_key() != plan.cohort_key()


def test_lane_and_cohort_keys_are_the_ones_stored_runs_name():
    """The linear baseline names a split by a hash of its lane key: the key may not move."""
    assert PLAN.lane_key() == ("mnist", (4, 9), 0, False, 0.2, "true", "lowcap", None, False)
    assert set(PLAN.cohort_key()) >= {100, 128, "relu", "highest", "float32", "own", "mnist", 1}
    mixed = PLAN.with_hp(optimiser="adam", init="normal", weight_decay=0.1)
    assert mixed.cohort_key() == PLAN.cohort_key() and mixed.lane_key() == PLAN.lane_key()


def test_a_new_hyperparameter_is_one_field_and_keeps_every_id():
    """Adding a hyperparameter is one field: read from the protocol by name, in the id only
    where it differs from its default, and in the cohort key unless declared otherwise."""

    @dataclass(frozen=True)
    class Later(Hyperparameters):
        lr_schedule: str = hyperparameter("constant")  # a field lowcap does not have
        warmup: int = hyperparameter(0, shared_by="model")
        extras: list = field(default_factory=list)

    protocol = SimpleNamespace(**asdict(HP), lr_schedule="cosine")
    later = ModelPlan("corrected", (4, 9), 24, 0.03, 0, Later(**asdict(HP)))
    assert later.model_id == PLAN.model_id
    cosine = ModelPlan("corrected", (4, 9), 24, 0.03, 0, Later.of(protocol))
    assert cosine.hp.lr_schedule == "cosine" and cosine.model_id != PLAN.model_id
    assert cosine.cohort_key() != later.cohort_key()
    assert later.with_hp(warmup=5).cohort_key() == later.cohort_key()
    # The first stores' fields count whatever their value, as they always did.
    assert PLAN.with_hp(labels="random").model_id != PLAN.model_id


def test_a_field_keyed_when_set_keeps_every_stored_key():
    """Label noise is shared by a lane, like the split it changes, and joins the lane key only
    where it is set: every stored lane key (and the splits named by them) stays."""
    noisy = PLAN.with_hp(label_noise=0.2)
    assert PLAN.lane_key()[-1] is False  # the last field keyed whatever its value
    assert noisy.lane_key() == (*PLAN.lane_key(), ("label_noise", 0.2))
    assert noisy.model_id != PLAN.model_id and noisy.cohort_key() == PLAN.cohort_key()


def test_a_record_is_the_flat_plan_and_reads_back():
    record = PLAN.record()
    assert list(record)[:6] == ["protocol", "pair", "hidden", "lr", "seed", "epochs"]
    assert ModelPlan.from_record(record) == PLAN
    older = {k: v for k, v in record.items() if k not in ("depth", "dataset", "optimiser")}
    assert ModelPlan.from_record(older) == PLAN  # fields added since: their defaults


def test_of_takes_explicit_values_then_sources_in_order_then_defaults():
    first = SimpleNamespace(epochs=5, depth=2)
    second = SimpleNamespace(epochs=7, batch_size=None, init="normal", init_std=0.5,
                             balance=True, val_fraction=0.1, activation="tanh")
    hp = Hyperparameters.of(first, second, activation="relu")
    assert (hp.epochs, hp.depth, hp.batch_size, hp.activation, hp.dataset) == (
        5, 2, None, "relu", "mnist")
