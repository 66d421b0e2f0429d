"""The cohort engine against the plainest reference: nn.Module + torch.optim.SGD, same batches."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import small_split
from references import rel_err, train_reference
from torch import nn

from lowcap.models import Cohort, InitSpec, Lane, ModelSpec, init_params
from lowcap.models.mlp import init_seed
from lowcap.training import epoch_order, train_cohort, updates_per_epoch

MIXED = [(2, 0.03), (4, 0.1), (6, 0.01), (8, 0.3), (12, 0.03), (16, 0.05), (24, 0.003),
         (48, 0.03), (64, 0.1)]


@pytest.mark.parametrize(("batch_size", "activation"), [(64, "relu"), (None, "relu"),
                                                        (100, "tanh")])
def test_cohort_equals_independent_training(mnist, bank, batch_size, activation):
    lanes = [
        Lane(small_split(mnist, (4, 9), 0, 600), 0,
             tuple(ModelSpec(h, lr, 0) for h, lr in MIXED)),
        Lane(small_split(mnist, (3, 8), 1, 450), 1,
             tuple(ModelSpec(h, lr, 1, InitSpec("normal", 0.1)) for h, lr in MIXED[:4])),
    ]
    cohort = Cohort(lanes, activation=activation)
    assert len(cohort.models()) >= 10
    train_cohort(cohort, bank, epochs=3, batch_size=batch_size)
    for g, i, spec in cohort.models():
        lane = lanes[g]
        ref = train_reference(init_params(spec.hidden, spec.seed, spec.init), lane.split, bank,
                              spec.lr, 3, batch_size, lane.order_seed, activation)
        got = cohort.module(g, i)
        for p_got, p_ref in zip(got.parameters(), ref.parameters(), strict=True):
            assert rel_err(p_got.detach(), p_ref.detach()) <= 1e-5, (g, spec)


@pytest.mark.parametrize(("batch_size", "budget"), [(None, 128), (64, None), (64, 16)])
def test_update_budget_equals_independent_training(mnist, bank, batch_size, budget):
    """Full batch repeated to the updates of a mini-batch pass, mini-batches cut to one update,
    and more updates than one pass holds: each lane's own number of updates, per model the
    reference loop's trajectory (lanes of different sizes share the cohort)."""
    lanes = [Lane(small_split(mnist, (4, 9), 0, 600), 0,
                  tuple(ModelSpec(h, lr, 0) for h, lr in MIXED[:3])),
             Lane(small_split(mnist, (3, 8), 1, 300), 1, (ModelSpec(8, 0.05, 1),))]
    cohort = Cohort(lanes)
    train_cohort(cohort, bank, epochs=2, batch_size=batch_size, budget=budget)
    for g, i, spec in cohort.models():
        lane = lanes[g]
        ref = train_reference(init_params(spec.hidden, spec.seed, spec.init), lane.split, bank,
                              spec.lr, 2, batch_size, lane.order_seed, budget=budget)
        for p_got, p_ref in zip(cohort.module(g, i).parameters(), ref.parameters(),
                                strict=True):
            assert rel_err(p_got.detach(), p_ref.detach()) <= 1e-5, (g, spec)


def test_update_budget_counts():
    assert updates_per_epoch(1000, 128) == 8
    assert updates_per_epoch(1000, None) == 1
    assert updates_per_epoch(1000, None, 128) == 8  # GD given SGD's updates
    assert updates_per_epoch(1000, 128, None) == 1  # SGD cut to one update an epoch
    order = epoch_order(300, 0, 0, 64, 16)  # 19 updates: a second pass continues the first
    assert len(order) == 19 and all(len(b) <= 64 for b in order)
    assert np.array_equal(np.sort(np.concatenate(order[:5])), np.arange(300))
    assert all(np.array_equal(b, np.arange(10)) for b in epoch_order(10, 0, 0, None, 4))


def test_init_is_nn_linear_default():
    params = init_params(24, seed=3)
    torch.manual_seed(init_seed(3, 24))
    first, second = nn.Linear(784, 24), nn.Linear(24, 1)
    torch.testing.assert_close(params["w1"].float(), first.weight.detach(), rtol=0, atol=0)
    torch.testing.assert_close(params["b1"].float(), first.bias.detach(), rtol=0, atol=0)
    torch.testing.assert_close(params["w2"].float(), second.weight.detach(), rtol=0, atol=0)
    assert params["w1"].abs().max() <= 1 / math.sqrt(784)


def test_normal_init_has_zero_bias_and_given_std():
    params = init_params(64, seed=0, init=InitSpec("normal", 0.1))
    assert params["b1"].abs().sum() == 0 and params["b2"].abs().sum() == 0
    assert params["w1"].std().item() == pytest.approx(0.1, rel=0.02)


def test_diverging_model_leaves_others_unchanged(mnist, bank):
    split = small_split(mnist, (4, 9), 0, 512)
    specs = (ModelSpec(8, 0.03, 0), ModelSpec(16, 0.1, 0))
    blowup = ModelSpec(12, 1e38, 0)
    with_bad = Cohort([Lane(split, 0, (specs[0], blowup, specs[1]))])
    without = Cohort([Lane(split, 0, specs)])
    seen = []
    train_cohort(with_bad, bank, 3, 64, on_epoch=lambda c, r: seen.append(r))
    train_cohort(without, bank, 3, 64)
    last = seen[-1]
    assert last.diverged[0].tolist() == [False, True, False]
    assert np.isnan(last.metrics["val_f1"][0, 1])
    assert np.isfinite(last.metrics["val_f1"][0, [0, 2]]).all()
    for idx_bad, idx_ok in ((0, 0), (2, 1)):
        a, b = with_bad.model_params(0, idx_bad), without.model_params(0, idx_ok)
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=1e-6, atol=1e-7)


def test_module_matches_cohort_logits(mnist, bank):
    split = small_split(mnist, (1, 7), 2, 256)
    cohort = Cohort([Lane(split, 2, (ModelSpec(3, 0.1, 2), ModelSpec(10, 0.1, 2)))])
    train_cohort(cohort, bank, 1, 32)
    x, _ = bank.inputs(split, "val")
    logits = cohort.logits(x.unsqueeze(0))[0]
    for i in range(2):
        torch.testing.assert_close(cohort.module(0, i)(x).squeeze(1), logits[:, i])


def test_epoch_metrics_match_sklearn_on_module_predictions(mnist, bank):
    from sklearn.metrics import f1_score, roc_auc_score

    split = small_split(mnist, (5, 6), 0, 300)
    seen = []
    cohort = Cohort([Lane(split, 0, (ModelSpec(4, 0.05, 0), ModelSpec(9, 0.05, 0)))])
    train_cohort(cohort, bank, 2, 50, on_epoch=lambda c, r: seen.append(r))
    x, y = bank.inputs(split, "test")
    for i in range(2):
        scores = torch.sigmoid(cohort.module(0, i)(x).squeeze(1)).detach().numpy()
        assert seen[-1].metrics["test_f1"][0, i] == pytest.approx(
            f1_score(y.numpy(), scores > 0.5), abs=1e-6)
        assert seen[-1].metrics["test_auc"][0, i] == pytest.approx(
            roc_auc_score(y.numpy(), scores), abs=1e-6)


@pytest.mark.parametrize("n_models", [3, 70])  # GEMM readout, and the exact one for many models
def test_readout_and_gradients_match_modules_for_any_model_count(mnist, bank, n_models):
    split = small_split(mnist, (3, 8), 1, 64)
    specs = tuple(ModelSpec(1 + i % 4, 0.1, i) for i in range(n_models))
    cohort = Cohort([Lane(split, 1, specs)])
    modules = [cohort.module(0, i) for i in range(n_models)]
    train_cohort(cohort, bank, 1, 32)
    x, y = bank.inputs(split, "train")
    for module in modules:
        opt = torch.optim.SGD(module.parameters(), lr=0.1)
        for idx in epoch_order(len(y), 1, 0, 32):
            opt.zero_grad()
            F.binary_cross_entropy_with_logits(module(x[idx]).squeeze(1), y[idx]).backward()
            opt.step()
    logits = cohort.logits(x.unsqueeze(0))[0]
    for i, module in enumerate(modules):
        torch.testing.assert_close(module(x).squeeze(1), logits[:, i], rtol=1e-5, atol=1e-5)


def test_medium_matmul_precision_is_deterministic_close_and_measures_in_float32(mnist, bank):
    """'medium' (bf16 products on AMX CPUs) changes only the updates: two runs agree bit for
    bit, land close to float32 training, report val metrics computed at 'highest', and leave
    PyTorch's global setting as it was."""
    from lowcap.training import EvalSet, evaluate, matmul_description

    reduced = matmul_description("medium", torch.device("cpu")).startswith("bf16")
    split = small_split(mnist, (4, 9), 0, 600)
    lanes = [Lane(split, 0, tuple(ModelSpec(h, 0.03, 0) for h in (4, 16, 64)))]
    runs = {}
    for name, precision in (("a", "medium"), ("b", "medium"), ("float32", "highest")):
        cohort, seen = Cohort(lanes), []
        train_cohort(cohort, bank, 2, 64, precision=precision,
                     on_epoch=lambda c, r, seen=seen: seen.append(r))
        runs[name] = (cohort, seen[-1])
        assert torch.get_float32_matmul_precision() == "highest"
    (a, last_a), (b, _), (exact, _) = runs["a"], runs["b"], runs["float32"]
    for key, tensor in a.state().items():
        assert torch.equal(tensor, b.state()[key]), key
        if key in ("w1", "w2"):  # without bf16 products, 'medium' is float32 (maybe other kernels)
            relative = rel_err(tensor, exact.state()[key])
            assert relative < 2e-2 and (relative > 1e-4) == reduced, (key, relative)
    with torch.no_grad():
        val = evaluate(a, EvalSet.of(a, bank, "val"))
    np.testing.assert_array_equal(last_a.metrics["val_loss"], val["loss"].numpy())


def test_evaluating_every_few_epochs_changes_only_the_recorded_metrics(mnist, bank):
    """`evaluate_every=3` over 5 epochs: validation and test metrics after epochs 3 and 5
    equal those of evaluating every epoch, NaN after the others; the same weights."""
    lane = Lane(small_split(mnist, (4, 9), 0, 300), 0, (ModelSpec(4, 0.05, 0),
                                                        ModelSpec(8, 0.1, 0)))
    runs = {}
    for every in (1, 3):
        seen: list[dict] = []
        cohort = Cohort([lane])
        train_cohort(cohort, bank, epochs=5, batch_size=None, evaluate_every=every,
                     on_epoch=lambda _, result, seen=seen: seen.append(result.metrics))
        runs[every] = (cohort, seen)
    (each, every_epoch), (sparse, sparse_epochs) = runs[1], runs[3]
    torch.testing.assert_close(sparse.module(0, 1).state_dict(),
                               each.module(0, 1).state_dict(), rtol=0, atol=0)
    for epoch in range(5):
        for name in ("val_f1", "test_loss", "train_loss"):
            got, want = sparse_epochs[epoch][name], every_epoch[epoch][name]
            if name.startswith("train") or epoch in (2, 4):
                np.testing.assert_array_equal(got, want)
            else:
                assert np.isnan(got).all()
