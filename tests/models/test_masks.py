"""Sparse subnetworks in the cohort: per-model weight masks keep pruned weights exactly zero
through training, train as torch.nn.utils.prune's reparametrised modules do, and leave dense
models of the same cohort untouched; a round of iterative magnitude pruning removes exactly the
weights torch's `global_unstructured` / `l1_unstructured` remove."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import small_split
from torch.nn.utils import prune

from lowcap.models import Cohort, InitSpec, Lane, ModelSpec, build_mlp, init_params
from lowcap.studies.pruning.methods import magnitude_round
from lowcap.training import epoch_order, train_cohort


def _random_mask(params: dict, keep: float, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {k: (torch.rand(params[k].shape, generator=g) < keep).to(params[k].dtype)
            for k in ("w1", "w2")}


def _reference(params, mask, split, bank, lr, epochs, batch_size, order_seed):
    """nn.Module training under torch's own pruning reparametrisation (weight = orig · mask)."""
    model = build_mlp({k: v.float() for k, v in params.items()}, "relu")
    prune.custom_from_mask(model[0], "weight", mask["w1"].float())
    prune.custom_from_mask(model[2], "weight", mask["w2"].float())
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = bank.inputs(split, "train")
    for epoch in range(epochs):
        for idx in epoch_order(len(y), order_seed, epoch, batch_size):
            opt.zero_grad()
            F.binary_cross_entropy_with_logits(model(x[idx]).squeeze(1), y[idx]).backward()
            opt.step()
    # `weight` is recomputed at each forward pass: after the last step it is stale.
    return {"w1": (model[0].weight_orig * model[0].weight_mask).detach(),
            "w2": (model[2].weight_orig * model[2].weight_mask).detach()}


@pytest.mark.parametrize("batch_size", [64, None])
def test_masked_models_train_like_torch_prune_and_stay_sparse(mnist, bank, batch_size):
    specs = [ModelSpec(8, 0.1, 0), ModelSpec(16, 0.05, 0, InitSpec("normal", 0.1)),
             ModelSpec(4, 0.1, 0)]
    split = small_split(mnist, (4, 9), 0, 400)
    initial = [init_params(s.hidden, s.seed, s.init) for s in specs]
    masks = [_random_mask(initial[0], 0.3, 1), _random_mask(initial[1], 0.05, 2), None]
    cohort = Cohort([Lane(split, 0, tuple(specs))])
    cohort.set_masks([masks])
    dense = Cohort([Lane(split, 0, (specs[2],))])

    def still_sparse(c, result):
        for i, mask in enumerate(masks[:2]):
            got = c.model_params(0, i)
            for layer in ("w1", "w2"):
                assert torch.all(got[layer].reshape(mask[layer].shape)[mask[layer] == 0] == 0)

    train_cohort(cohort, bank, 3, batch_size, on_epoch=still_sparse)
    train_cohort(dense, bank, 3, batch_size)
    for i, mask in enumerate(masks[:2]):
        ref = _reference(initial[i], mask, split, bank, specs[i].lr, 3, batch_size, 0)
        got = cohort.model_params(0, i)
        for layer in ("w1", "w2"):  # float32 sums in another order: a relative error
            diff = got[layer].reshape(ref[layer].shape) - ref[layer]
            assert diff.norm() <= 1e-5 * ref[layer].norm(), (i, layer)
            assert torch.all(ref[layer][mask[layer] == 0] == 0)
    # The dense model beside them trains as it does alone (to float32 rounding: the GEMMs'
    # shapes differ).
    for layer, value in dense.model_params(0, 0).items():
        assert (cohort.model_params(0, 2)[layer] - value).norm() <= 1e-5 * value.norm()
    assert cohort.masks["w1"][0, 28:].eq(1).all()  # its units (after 8 + 16 masked) are unmasked


def test_masks_survive_a_snapshot(mnist):
    split = small_split(mnist, (4, 9), 0, 100)
    cohort = Cohort([Lane(split, 0, (ModelSpec(4, 0.1, 0),))])
    cohort.set_masks([[_random_mask(init_params(4, 0), 0.5, 0)]])
    other = Cohort([Lane(split, 0, (ModelSpec(4, 0.1, 0),))])
    other.set_masks([[None]])
    other.load_state(cohort.state())
    assert torch.equal(other.masks["w1"], cohort.masks["w1"]) and torch.equal(other.w1, cohort.w1)


def _torch_rounds(params, fraction, rounds, scope):
    model = build_mlp({k: v.float() for k, v in params.items()}, "relu")
    layers = [(model[0], "weight"), (model[2], "weight")]
    for _ in range(rounds):
        if scope == "global":
            prune.global_unstructured(layers, prune.L1Unstructured, amount=fraction)
        else:
            for module, name in layers:
                prune.l1_unstructured(module, name, amount=fraction)
    return {"w1": model[0].weight_mask, "w2": model[2].weight_mask}


@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_a_pruning_round_equals_torch_prune(scope):
    params = init_params(24, seed=3)
    mask = None
    for rounds in range(1, 5):  # iterative: each round prunes 20% of what remains
        mask = magnitude_round(params, mask, 0.2, scope)
        expected = _torch_rounds(params, 0.2, rounds, scope)
        for layer in ("w1", "w2"):
            assert torch.equal(mask[layer].float(), expected[layer]), (scope, rounds, layer)
    kept = sum(int(m.sum()) for m in mask.values())
    assert kept == pytest.approx(0.8**4 * (784 * 24 + 24), rel=0.01)


def test_a_pruning_round_refuses_bad_arguments():
    params = init_params(4, seed=0)
    with pytest.raises(ValueError, match="fraction"):
        magnitude_round(params, None, 1.0)
    with pytest.raises(ValueError, match="scope"):
        magnitude_round(params, None, 0.2, "random")
