"""Pruning masks against torch.nn.utils.prune, ties, batching, and dead-unit counting."""

import pytest
import torch
from torch.nn.utils import prune as torch_prune

from lowcap.models import init_params
from lowcap.studies.dead_neurons.units import dead_units, disconnected_units, live_units
from lowcap.studies.pruning.methods import (
    PackedWeights,
    Pruner,
    achieved_sparsity,
    prune,
    prune_masks,
)


def random_models(widths, seed=0):
    return [init_params(h, seed + i) for i, h in enumerate(widths)]


@pytest.mark.parametrize("level", [0.1, 0.5, 0.95, 0.99])
def test_layerwise_masks_equal_torch_l1_unstructured(level):
    models = random_models([3, 12, 24, 64])  # continuous weights: no ties
    pruned, _ = prune(models, level, "layerwise")
    for params, ours in zip(models, pruned, strict=True):
        for name in ("w1", "w2"):
            layer = torch.nn.Linear(1, 1)
            layer.weight = torch.nn.Parameter(params[name].clone())
            k = int(level * params[name].numel())  # the paper's int(), not torch's round()
            torch_prune.l1_unstructured(layer, "weight", amount=k)
            torch.testing.assert_close((ours[name] != 0), layer.weight_mask.bool(),
                                       rtol=0, atol=0)
            torch.testing.assert_close(ours["b1"], params["b1"])


@pytest.mark.parametrize("level", [0.1, 0.5, 0.95, 0.97, 0.99])
def test_nearest_rounding_equals_torch_l1_unstructured_with_a_fraction(level):
    models = random_models([3, 12, 24, 64], seed=5)
    pruned, _ = prune(models, level, "layerwise_nearest")
    differs = False
    for params, ours in zip(models, pruned, strict=True):
        for name in ("w1", "w2"):
            layer = torch.nn.Linear(1, 1)
            layer.weight = torch.nn.Parameter(params[name].clone())
            torch_prune.l1_unstructured(layer, "weight", amount=level)  # round(s·n)
            torch.testing.assert_close((ours[name] != 0), layer.weight_mask.bool(),
                                       rtol=0, atol=0)
            n = params[name].numel()
            differs |= round(level * n) != int(level * n)
    assert differs or level == 0.5  # the two roundings really differ somewhere


def test_ties_at_threshold_are_pruned_and_reported():
    w1 = torch.tensor([[0.1, 0.1, 0.1, 0.1, 0.5], [0.3, -0.1, 0.7, 0.2, 0.9]])
    params = {"w1": w1, "b1": torch.zeros(2), "w2": torch.tensor([[1.0, 2.0]]),
              "b2": torch.zeros(1)}
    (pruned,), achieved = prune([params], 0.2, "layerwise")  # k = int(0.2·10) = 2 ...
    # ... but five entries tie at |w| = 0.1, and the appendix's `<=` prunes all of them.
    assert int((pruned["w1"] == 0).sum()) == 5
    assert achieved.item() == pytest.approx(5 / 12)
    assert torch.equal(pruned["w2"], params["w2"])  # k = int(0.2·2) = 0: nothing pruned


def test_batched_pruning_equals_one_model_at_a_time():
    models = random_models([2, 6, 16, 48], seed=3)
    for method in ("layerwise", "global", "layerwise_refscale"):
        together, sparsity = prune(models, 0.9, method)
        for i, params in enumerate(models):
            (alone,), alone_sparsity = prune([params], 0.9, method)
            for name in params:
                assert torch.equal(together[i][name], alone[name]), (method, i, name)
            assert sparsity[i] == alone_sparsity[0]


def test_global_pruning_uses_one_threshold_per_model():
    (params,) = random_models([8])
    (pruned,), achieved = prune([params], 0.7, "global")
    kept = torch.cat([pruned["w1"].flatten(), pruned["w2"].flatten()])
    removed = torch.cat([params["w1"].flatten(), params["w2"].flatten()])[kept == 0]
    assert kept[kept != 0].abs().min() > removed.abs().max()
    assert achieved.item() == pytest.approx(0.7, abs=1 / (784 * 8 + 8))


def test_random_pruning_is_seeded_and_exact():
    models = random_models([10, 20])
    a, sa = prune(models, 0.5, "random", seed=1)
    b, _ = prune(models, 0.5, "random", seed=1)
    c, _ = prune(models, 0.5, "random", seed=2)
    assert all(torch.equal(x["w1"], y["w1"]) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[0]["w1"], c[0]["w1"])
    assert int((a[0]["w1"] == 0).sum()) == int(0.5 * 7840)
    assert sa.tolist() == pytest.approx([0.5, 0.5], abs=1e-3)


def test_reference_scale_prunes_a_hundredth():
    (params,) = random_models([24])
    packed = PackedWeights.pack([params])
    keep = prune_masks(packed, 0.95, "layerwise_refscale")
    assert int((~keep["w1"][0, : 784 * 24]).sum()) == int(0.0095 * 784 * 24)
    assert bool(keep["w2"][0, :24].all())  # int(0.0095 · 24) = 0: the second layer is untouched
    assert achieved_sparsity(packed, keep).item() < 0.01


def test_dead_units_on_hand_built_model():
    x = torch.rand(50, 784)  # inputs in [0, 1]
    w1 = torch.zeros(4, 784)
    w1[0] = 1.0  # always active
    w1[1] = -1.0  # never active (pre-activation ≤ 0 for every non-negative input)
    w1[2, 0] = 1.0  # active where x[:, 0] > 0.5 ...
    b1 = torch.tensor([0.0, 0.0, -0.5, -1.0])  # ... and unit 3 is never active
    params = {"w1": w1, "b1": b1, "w2": torch.ones(1, 4), "b2": torch.zeros(1)}
    dead = dead_units(params, x)
    assert dead.tolist() == [False, True, bool((x[:, 0] <= 0.5).all()), True]


def test_one_packing_for_every_level_equals_pruning_each_level_afresh():
    models = random_models([2, 6, 16, 48, 6, 2], seed=5)
    pruner = Pruner(models)
    assert len(pruner.groups) == 4  # one group per shape
    for level in (0.3, 0.9, 0.99):
        for method in ("layerwise", "global", "random", "layerwise_refscale"):
            shared, shared_sparsity = pruner.prune(level, method, seed=7)
            fresh, fresh_sparsity = prune(models, level, method, seed=7)
            assert torch.equal(shared_sparsity, fresh_sparsity)
            for a, b in zip(shared, fresh, strict=True):
                assert all(torch.equal(a[k], b[k]) for k in a), (level, method)


def test_packing_models_of_different_shapes_is_refused():
    with pytest.raises(ValueError, match="one shape"):
        PackedWeights.pack(random_models([2, 6]))


def test_disconnected_and_live_units_on_hand_built_model():
    x = torch.rand(50, 784)
    w1 = torch.ones(4, 784)
    w1[2] = 0.0  # no incoming weight: a constant relu(b1) = 0.5, not dead, but disconnected
    params = {"w1": w1, "b1": torch.tensor([0.0, 0.0, 0.5, 0.0]),
              "w2": torch.tensor([[1.0, 0.0, 1.0, -1.0]]), "b2": torch.zeros(1)}
    assert dead_units(params, x).tolist() == [False, False, False, False]
    assert disconnected_units(params).tolist() == [False, True, True, False]  # unit 1: no out
    assert live_units(params, x).tolist() == [True, False, False, True]


def test_every_layer_of_a_deep_model_is_pruned_by_the_same_rules():
    """Depth 3: layerwise removes int(s · size) of each of the four matrices, global int(s ·
    all) by one threshold over them, biases never; the pruned model keeps its other layers."""
    from lowcap.models.mlp import init_params

    models = [{k: v.float() for k, v in init_params(6, seed, depth=3).items()}
              for seed in range(3)]
    sizes = {f"w{k}": models[0][f"w{k}"].numel() for k in range(1, 5)}
    pruned, achieved = prune(models, 0.5, "layerwise")
    for p in pruned:
        for name, size in sizes.items():
            assert int((p[name] == 0).sum()) == int(0.5 * size)
    total = sum(sizes.values())
    assert achieved.tolist() == pytest.approx([sum(int(0.5 * s) for s in sizes.values()) / total]
                                              * 3)
    pruned, achieved = prune(models, 0.9, "global")
    for p, model in zip(pruned, models, strict=True):
        removed = torch.cat([(p[n] == 0).reshape(-1) for n in sizes])
        assert int(removed.sum()) == int(0.9 * total)
        kept = torch.cat([model[n].reshape(-1).abs() for n in sizes])[~removed]
        gone = torch.cat([model[n].reshape(-1).abs() for n in sizes])[removed]
        assert kept.min() > gone.max()  # one threshold over every matrix
        for k in range(1, 5):
            assert torch.equal(p[f"b{k}"], model[f"b{k}"])
