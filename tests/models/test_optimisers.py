"""Optimisers per model: a cohort mixing SGD, SGD with momentum and Adam, with and without
weight decay, trains every model as torch.optim trains it alone."""

import pytest
import torch
from conftest import small_split
from references import train_reference

from lowcap.models import Cohort, Lane, ModelSpec, init_params
from lowcap.models.optimisers import OptimiserSpec
from lowcap.training import train_cohort

MIXED = [
    (4, 0.05, OptimiserSpec()),
    (6, 0.05, OptimiserSpec("momentum", momentum=0.9)),
    (5, 0.01, OptimiserSpec("adam")),
    (8, 0.02, OptimiserSpec("momentum", momentum=0.5, weight_decay=1e-2)),
    (3, 0.003, OptimiserSpec("adam", beta1=0.8, beta2=0.99, weight_decay=5e-3)),
    (7, 0.1, OptimiserSpec("sgd", weight_decay=1e-3)),
]


def _torch_optimiser(model, lr, spec: OptimiserSpec):
    if spec.kind == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, betas=(spec.beta1, spec.beta2),
                                weight_decay=spec.weight_decay)
    momentum = spec.momentum if spec.kind == "momentum" else 0.0
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                           weight_decay=spec.weight_decay)


@pytest.mark.parametrize(("batch_size", "budget"), [(64, "own"), (None, "own"), (64, 32)])
def test_each_model_trains_as_torch_optim_trains_it_alone(mnist, bank, batch_size, budget):
    lanes = [Lane(small_split(mnist, (4, 9), 0, 300), 0,
                  tuple(ModelSpec(h, lr, 0, optimiser=o) for h, lr, o in MIXED)),
             Lane(small_split(mnist, (3, 8), 1, 200), 1,
                  tuple(ModelSpec(h, lr, 1, optimiser=o) for h, lr, o in MIXED[:3]))]
    cohort = Cohort(lanes)
    assert cohort.optimiser is not None
    train_cohort(cohort, bank, 3, batch_size, budget=budget)
    for g, lane in enumerate(lanes):
        for i, spec in enumerate(lane.models):
            alone = train_reference(
                init_params(spec.hidden, spec.seed), lane.split, bank, spec.lr, 3, batch_size,
                lane.order_seed, budget=budget,
                make_optimiser=lambda m, spec=spec: _torch_optimiser(m, spec.lr, spec.optimiser))
            ours = cohort.model_params(g, i)
            for key, ref in (("w1", alone[0].weight), ("b1", alone[0].bias),
                             ("w2", alone[2].weight), ("b2", alone[2].bias)):
                error = ((ours[key] - ref).norm() / ref.norm()).item()
                assert error < 1e-5, (g, i, spec.optimiser, key, error)


def test_a_plain_sgd_cohort_keeps_the_fused_path_and_no_state(mnist):
    lane = Lane(small_split(mnist, (4, 9), 0, 100), 0, (ModelSpec(4, 0.05, 0),))
    cohort = Cohort([lane])
    assert cohort.optimiser is None and not any(k.startswith("opt_") for k in cohort.state())


def test_the_optimiser_state_is_part_of_a_snapshot(mnist, bank):
    lane = Lane(small_split(mnist, (4, 9), 0, 200), 0,
                tuple(ModelSpec(h, lr, 0, optimiser=o) for h, lr, o in MIXED[1:3]))
    straight = Cohort([lane])
    train_cohort(straight, bank, 2, 64)
    resumed = Cohort([lane])
    train_cohort(resumed, bank, 1, 64)
    snapshot = {k: v.clone() for k, v in resumed.state().items()}
    assert "opt_m_w1" in snapshot and snapshot["opt_steps"].max() > 0
    restored = Cohort([lane])
    restored.load_state(snapshot)
    train_cohort(restored, bank, 2, 64, start_epoch=1)
    torch.testing.assert_close(restored.w1, straight.w1)


@pytest.mark.parametrize(("field", "value"), [("kind", "rmsprop"), ("momentum", 1.0),
                                              ("beta2", -0.1), ("weight_decay", -1.0)])
def test_an_impossible_optimiser_is_refused(field, value):
    with pytest.raises(ValueError, match=field if field != "kind" else "rmsprop"):
        OptimiserSpec(**{field: value})


def test_the_optimiser_is_a_protocol_field_and_names_new_models(tmp_path):
    from lowcap.errors import UserInputError
    from lowcap.run.plan import grid
    from lowcap.studies.registry import parse_config

    plans = {}
    for name in ("sgd", "adam"):
        cfg = parse_config({"protocols": {"corrected": {"optimiser": name,
                                                        "weight_decay": 0.01}}}, "cfg")
        plans[name] = grid(cfg, cfg.protocol("corrected"), [(4, 9)], [4], [0.03])[0]
    assert plans["adam"].hp.optimiser_spec == OptimiserSpec("adam", weight_decay=0.01)
    assert plans["sgd"].model_id != plans["adam"].model_id
    default = parse_config({"protocols": {"corrected": {}}}, "cfg")
    plain = grid(default, default.protocol("corrected"), [(4, 9)], [4], [0.03])[0]
    assert plain.hp.optimiser_spec.plain
    with pytest.raises(UserInputError, match="rmsprop"):
        parse_config({"protocols": {"corrected": {"optimiser": "rmsprop"}}}, "cfg")
