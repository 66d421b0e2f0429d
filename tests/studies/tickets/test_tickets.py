"""Lottery tickets: the masks of the controls and of one-shot pruning, one round's cohort
against the plain computation, resuming per round, and the two claims' rules."""

import importlib

import numpy as np
import pytest
import torch

from lowcap.models.forward import forward
from lowcap.models.mlp import init_params
from lowcap.studies.pruning.methods import magnitude_round
from lowcap.studies.tickets import claims
from lowcap.studies.tickets.imp import Member, oneshot_mask, random_mask_like, train_round
from lowcap.training import classification_metrics, evaluated

tickets_compute = importlib.import_module("lowcap.studies.tickets.compute")


def _params(h=10, seed=0):
    return init_params(h, seed)


def test_random_masks_keep_each_layers_count_and_nest_over_rounds():
    params = _params()
    first = magnitude_round(params, None, 0.2, "global")
    second = magnitude_round(params, first, 0.2, "global")
    masks = [random_mask_like(m, seed=7) for m in (first, second)]
    for imp, random in zip((first, second), masks, strict=True):
        for layer in ("w1", "w2"):
            assert random[layer].sum() == imp[layer].sum()
    assert not torch.equal(masks[0]["w1"], first["w1"])
    assert torch.all(masks[1]["w1"] <= masks[0]["w1"])  # same seed: a subset


@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_the_oneshot_mask_keeps_the_largest_weights_at_the_imp_sparsity(scope):
    trained = _params(seed=3)
    like = magnitude_round(_params(seed=4), None, 0.6, scope)
    mask = oneshot_mask(trained, like, scope)
    layers = [("w1", "w2")] if scope == "global" else [("w1",), ("w2",)]
    for group in layers:
        kept = torch.cat([mask[k].reshape(-1) for k in group])
        scores = torch.cat([trained[k].reshape(-1).abs() for k in group])
        assert kept.sum() == sum(like[k].sum() for k in group)
        assert scores[kept == 1].min() >= scores[kept == 0].max()


def _plan(pair=(4, 9), hidden=6, seed=0, epochs=2):
    from lowcap.run.plan import ModelPlan
    from lowcap.training.hyperparameters import Hyperparameters

    hp = Hyperparameters(epochs=epochs, batch_size=64, init="kaiming_uniform", init_std=0.1,
                         balance=False, val_fraction=0.2, activation="relu", train_size=300)
    return ModelPlan("corrected", pair, hidden, 0.05, seed, hp)


def test_a_round_keeps_its_masks_and_measures_oneshot_before_fine_tuning(mnist, bank):
    from lowcap.run.split import plan_split

    plans = [_plan(hidden=6), _plan(hidden=9), _plan(pair=(3, 8), hidden=6, seed=1)]
    members = []
    for plan in plans:
        trained = {k: v + 0.01 * torch.randn_like(v) for k, v in
                   init_params(plan.hidden, plan.seed + 5).items()}
        mask = magnitude_round(trained, None, 0.5, "global")
        rewind = init_params(plan.hidden, plan.seed, plan.hp.init_spec, pair=plan.pair)
        members.append(Member(plan, trained, rewind, mask))
    result = train_round(members, lambda p: plan_split(mnist, p), bank, "global", 1000)
    for member in members:
        mid = member.plan.model_id
        imp = result.imp_trained[mid]
        for layer in ("w1", "w2"):
            assert torch.all(imp[layer][member.mask[layer] == 0] == 0)
        assert not torch.equal(imp["w1"], member.rewind["w1"] * member.mask["w1"])  # trained
        pruned = {k: v * m for k, v, m in ((k, member.trained[k],
                                            oneshot_mask(member.trained, member.mask, "global")
                                            .get(k, torch.ones(1))) for k in member.trained)}
        x, y = bank.inputs(plan_split(mnist, member.plan), "val")
        expected = classification_metrics(forward({k: v.float() for k, v in pruned.items()},
                                                  x).unsqueeze(0), y)["f1"][0]
        assert result.best_val_f1[(mid, "oneshot")] == pytest.approx(float(expected), abs=1e-6)
        for method in ("imp", "reinit", "random_mask", "oneshot_finetune"):
            assert 0 <= result.best_val_f1[(mid, method)] <= 1


@pytest.mark.slow
def test_the_study_resumes_after_a_crash_from_its_last_round(run_copy, run_cli, monkeypatch):
    calls = []
    real = tickets_compute.train_round

    def crashing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed in round 2")
        return real(*args, **kwargs)

    monkeypatch.setattr(tickets_compute, "train_round", crashing)
    options = ("--pairs", "4-9", "--widths", "4", "--quiet")
    code, _, _ = run_cli("tickets", str(run_copy), "--rounds", "3", *options)
    assert code != 0 and len(calls) == 2
    calls.clear()
    monkeypatch.setattr(tickets_compute, "train_round",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    code, _, err = run_cli("tickets", str(run_copy), "--rounds", "3", *options, "--no-report")
    assert code == 0, err
    # corrected resumes at round 2 (rounds 2, 3); reference had not started (rounds 1–3).
    assert len(calls) == 2 + 3
    calls.clear()
    code, _, _ = run_cli("tickets", str(run_copy), "--rounds", "4", *options)
    assert code == 0 and len(calls) == 2  # one more round per protocol
    import json

    summary = json.loads((run_copy / "summary.json").read_text())
    cell = summary["protocols"]["corrected"]["tickets"]["cells"]["4-9"]["4"]
    assert len(cell["remaining"]) == 4 and cell["remaining"][0] == pytest.approx(0.8, abs=0.01)
    assert set(cell["f1"]) == {"imp", "reinit", "random_mask", "oneshot", "oneshot_finetune"}


def _summary(imp_minus_dense, imp_minus_reinit, seeds=("0", "1", "2")):
    remaining = [0.2, 0.1, 0.04]
    dense = {s: 0.9 for s in seeds}
    cell = {"remaining": remaining, "dense_f1_by_seed": dense, "dense_std": 0.005,
            "f1_by_seed": {"imp": {s: [0.9 + imp_minus_dense] * 3 for s in seeds},
                           "reinit": {s: [0.9 + imp_minus_dense - imp_minus_reinit] * 3
                                      for s in seeds}}}
    return {"tickets": {"cells": {"4-9": {"12": cell}, "0-1": {"64": cell}}}}


@pytest.mark.parametrize(("gap", "edge", "verdicts"), [
    (0.0, 0.05, ("holds", "holds")), (-0.2, -0.05, ("does not hold", "does not hold"))])
def test_the_claims_decide_on_their_statistic(gap, edge, verdicts):
    r = _summary(gap, edge)
    checks = {c.id: c.check(r)[0].verdict for c in claims.CLAIMS}
    assert (checks["tickets_match_dense_95"], checks["tickets_beat_reinit"]) == verdicts
    quantity = claims.CLAIMS[0].quantity(r)
    assert set(quantity) == {"0", "1", "2"} and np.allclose(list(quantity.values()), gap)


def test_rewind_points_are_the_initialisation_or_the_weights_after_k_epochs(mnist, bank):
    """Late rewinding (Frankle et al. 2020) restarts each round from the dense model after k
    epochs: recomputed here, it equals k epochs of the plain nn.Module + torch.optim.SGD loop
    on the same batches; k = 0 is the initialisation itself."""
    from references import rel_err, train_reference

    from lowcap.run.split import plan_split

    class Context:
        def bank_for(self, plan):
            return bank

        def split(self, plan):
            return plan_split(mnist, plan)

    plans = [_plan(hidden=5, epochs=6), _plan(pair=(3, 8), hidden=7, seed=1, epochs=6)]
    at_init = tickets_compute._rewind_points(Context(), plans, 0)
    late = tickets_compute._rewind_points(Context(), plans, 2)
    for plan in plans:
        init = init_params(plan.hidden, plan.seed, plan.hp.init_spec, pair=plan.pair)
        for key in init:
            assert torch.equal(at_init[plan.model_id][key], init[key])
        reference = train_reference(init, plan_split(mnist, plan), bank, plan.lr, 2,
                                    plan.hp.batch_size, plan.seed)
        got = {k: v.reshape(p.shape) for (k, v), p in
               zip(late[plan.model_id].items(), reference.parameters(), strict=True)}
        for (key, value), expected in zip(got.items(), reference.parameters(), strict=True):
            assert rel_err(value.float(), expected.detach()) <= 1e-5, key


@pytest.mark.slow
def test_a_rounds_weights_replaced_on_disk_are_trained_again(run_copy, run_cli, monkeypatch,
                                                           caplog):
    """The kept IMP weights resume the later rounds: a file copied over them (another round's
    here) no longer matches the size and sha256 the store recorded, so its round is trained
    again with a warning, not resumed from."""
    options = ("--pairs", "4-9", "--widths", "4", "--quiet", "--no-report")
    assert run_cli("tickets", str(run_copy), "--rounds", "2", *options)[0] == 0
    first = sorted((run_copy / "store").glob("tickets-*-round01.safetensors"))[0]
    second = first.with_name(first.name.replace("round01", "round02"))
    first.write_bytes(second.read_bytes())
    calls = []
    real = tickets_compute.train_round
    monkeypatch.setattr(tickets_compute, "train_round",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    code, _, err = run_cli("tickets", str(run_copy), "--rounds", "3", *options)
    assert code == 0, err
    assert len(calls) == 3  # round 1 of one protocol again (its file changed), round 3 of both
    assert "training the round again" in caplog.text


def test_a_runs_rounds_keep_their_setting_name_unless_evaluated_less_often():
    """Runs made before `evaluate_every` existed evaluated each epoch: at k = 1 their rows keep
    their setting's name (they are read, not recomputed); another k names another setting."""
    import hashlib
    import json

    from lowcap.studies.tickets.config import TicketsConfig

    spec = TicketsConfig()
    earlier = spec.model_dump(mode="json", exclude={"rounds", "evaluate_every"})
    name = hashlib.sha256(json.dumps(["corrected", earlier], sort_keys=True).encode())
    assert tickets_compute.setting(spec, "corrected") == name.hexdigest()[:12]
    assert tickets_compute.setting(spec.model_copy(update={"evaluate_every": 5}),
                                   "corrected") != name.hexdigest()[:12]


def test_evaluating_every_kth_epoch_trains_the_same_and_keeps_the_best_of_those(
        mnist, bank, monkeypatch):
    from lowcap.run.split import plan_split

    imp_module = importlib.import_module("lowcap.studies.tickets.imp")
    plan = _plan(hidden=6, epochs=3)
    trained = {k: v + 0.01 * torch.randn_like(v) for k, v in init_params(6, 5).items()}
    member = Member(plan, trained, init_params(6, plan.seed, plan.hp.init_spec, pair=plan.pair),
                    magnitude_round(trained, None, 0.5, "global"))
    curves: list[np.ndarray] = []
    real = imp_module.train_cohort

    def recording(*args, on_epoch, **kwargs):
        def both(cohort, result):
            curves.append(result.metrics["val_f1"][0].copy())
            on_epoch(cohort, result)
        return real(*args, on_epoch=both, **kwargs)

    monkeypatch.setattr(imp_module, "train_cohort", recording)
    results = {}
    for every in (1, 2):
        curves.clear()
        results[every] = train_round([member], lambda p: plan_split(mnist, p), bank, "global",
                                     1000, evaluate_every=every), list(curves)
    (each, each_curves), (second, second_curves) = results[1], results[2]
    mid = plan.model_id
    assert torch.equal(each.imp_trained[mid]["w1"], second.imp_trained[mid]["w1"])
    assert np.isnan(second_curves[0]).all()  # epoch 1 of 3 is not evaluated at k = 2
    # The epochs the report reads the dense models at are the ones the trainer evaluated.
    assert [not np.isnan(c).all() for c in second_curves] == [evaluated(e, 3, 2)
                                                             for e in range(3)]
    for i, method in enumerate(("imp", "reinit", "random_mask", "oneshot_finetune")):
        assert each.best_val_f1[(mid, method)] == max(c[i] for c in each_curves)
        assert second.best_val_f1[(mid, method)] == max(c[i] for c in each_curves[1:])
