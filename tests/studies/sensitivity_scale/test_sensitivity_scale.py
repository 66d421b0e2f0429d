"""The Novak-scale study: the deep stack's measurements against plain references, the
granulated coefficient on known values, and a small grid end to end through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from references import jacobian_norm_autograd

from lowcap.models.mlp import build_mlp, init_params
from lowcap.studies.sensitivity.deep_stack import DeepStack
from lowcap.studies.sensitivity.jacobian import (
    ModelStack,
    count_transitions,
    ellipse,
)
from lowcap.studies.sensitivity_scale.compute import population
from lowcap.studies.sensitivity_scale.config import SensitivityScaleConfig
from lowcap.studies.sensitivity_scale.statistics import AXES, granulated_tau


def _models(depth, n=3, width=6, dim=20):
    return [{k: v.float() for k, v in init_params(width, seed, input_dim=dim, depth=depth).items()}
            for seed in range(n)]


def test_one_hidden_layer_gives_the_model_stacks_numbers():
    params = _models(1) + _models(1, n=2, width=11)  # two widths, padded in one stack
    x = torch.randn(50, 20, generator=torch.Generator().manual_seed(0))
    deep, flat = DeepStack.of(params), ModelStack.of(params)
    for a, b in zip(deep.logits_and_jacobian_norms(x), flat.logits_and_jacobian_norms(x),
                    strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(deep.switches(x), flat.switches(x))


@pytest.mark.parametrize("depth", [2, 3])
def test_deep_norms_and_transitions_equal_plain_per_model_computation(depth):
    """Models of different widths in one stack (padded) against each model alone."""
    params = [{k: v.float() for k, v in init_params(width, 0, input_dim=20, depth=depth).items()}
              for width in (3, 6, 9)]
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(40, 20, generator=gen)
    stack = DeepStack.of(params)
    logits, norms = stack.logits_and_jacobian_norms(x)
    trajectory = ellipse(*torch.randn(3, 20, generator=gen), points=256)
    switches = stack.switches(trajectory).sum(0)
    for m, p in enumerate(params):
        module = build_mlp(p)
        torch.testing.assert_close(logits[:, m], module(x).squeeze(1), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(norms[:, m], jacobian_norm_autograd(module, x), rtol=1e-4,
                                   atol=1e-7)
        # Every hidden unit of every layer: the pre-activation patterns, by hand.
        h, patterns = trajectory, []
        for k in range(1, depth + 1):
            z = h @ p[f"w{k}"].T + p[f"b{k}"]
            patterns.append(z > 0)
            h = torch.relu(z)
        assert switches[m] == count_transitions(torch.cat(patterns, dim=1))


def test_granulated_tau_averages_kendall_within_groups_of_one_axis():
    def model(depth, seed, measure, gap):
        factors = {"dataset": "mnist", "pair": "4-9", "seed": seed, **dict.fromkeys(AXES, 0),
                   "depth": depth}
        return {"factors": factors, "jac_test": measure, "gap_acc": gap}

    # Seed 0: measure and gap agree along depth (τ = 1); seed 1: they disagree (τ = −1/3).
    models = [model(1, 0, 1.0, 0.1), model(2, 0, 2.0, 0.2), model(3, 0, 3.0, 0.3),
              model(1, 1, 1.0, 0.2), model(2, 1, 2.0, 0.3), model(3, 1, 3.0, 0.1)]
    assert granulated_tau(models, "jac_test", "depth") == pytest.approx((1 - 1 / 3) / 2)
    assert granulated_tau(models, "jac_test", "width") is None  # width never varies


def test_batched_kendall_equals_scipy_with_ties():
    from scipy.stats import kendalltau

    from lowcap.studies.sensitivity_scale.statistics import kendall_tau_b

    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (200, 5)).astype(float)  # many ties
    y = rng.integers(0, 4, (200, 5)).astype(float)
    got = kendall_tau_b(x, y)
    for row in range(200):
        expected = kendalltau(x[row], y[row])[0]
        assert (np.isnan(got[row]) and np.isnan(expected)) or got[row] == pytest.approx(expected)


def test_the_default_grid_is_novak_scale_and_names_every_factor():
    plans = population(SensitivityScaleConfig())
    assert len(plans) >= 2000 and len({p.model_id for p in plans}) == len(plans)
    assert {p.hp.depth for p in plans} == {1, 2, 3} and {p.hp.dataset for p in plans} == {
        "mnist", "digits"}
    full = [p for p in plans if p.hp.batch_size is None]
    assert full and all(p.hp.budget_batch_size == 128 for p in full)


@pytest.mark.parametrize(("section", "named"), [
    ({"depths": [0]}, "depths"), ({"optimisers": ["rmsprop"]}, "optimisers"),
    ({"datasets": ["cifar"]}, "dataset 'cifar' is unknown"),
    ({"datasets": ["mnist1d"], "augment": [True]}, "augment: true needs image datasets"),
    ({"optimisers": ["momentum"], "learning_rates": {"sgd": 0.1}}, "no rate for optimiser"),
    ({"widths": [10_000_000]}, "the largest cohort, sensitivity_scale"),  # the memory check
])
def test_bad_grids_exit_2_naming_the_value(tmp_path, run_cli, section, named):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"protocols": {"corrected": {"seeds": [0]}},
                                   "sensitivity_scale": section}))
    code, _, err = run_cli("reproduce", "--config", str(cfg), "--out", str(tmp_path / "run"),
                           "--quiet", "--device", "cpu")
    assert code == 2 and named in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_small_grid_trains_measures_and_reports(tmp_path, run_cli):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({
        "protocols": {"corrected": {"seeds": [0]}}, "snapshot_every": 2,
        "sensitivity_scale": {
            "datasets": ["digits", "mnist1d"], "pairs": [[4, 9]], "depths": [1, 3],
            "widths": [4, 8], "optimisers": ["sgd", "adam"], "batch_sizes": [16, "full"],
            "budget_batch_size": 16,
            "augment": [False], "labels": ["true", "random"], "seeds": [0, 1], "epochs": 10,
            "train_size": 200, "points": 40, "ellipses": 1, "trajectory_points": 64,
            "bootstrap": 50}}))
    out = tmp_path / "run"
    code, _, err = run_cli("reproduce", "--config", str(cfg), "--out", str(out), "--quiet",
                           "--device", "cpu")
    assert code == 0, err
    section = json.loads((out / "summary.json").read_text())["sensitivity_scale"]
    assert section["models"] == 2 * 2 * 2 * 2 * 2 * 2 * 2  # no model diverged at these rates
    pooled = section["measures"]["jac_test"]["pooled"]
    assert pooled["n"] == section["models"] and -1 <= pooled["spearman"] <= 1
    low, high = pooled["spearman_ci"]
    assert low <= pooled["spearman"] <= high
    assert set(section["measures"]["transitions"]["factors"]["depth"]) == {"1", "3"}
    assert set(section["measures"]["jac_test"]["granulated_tau"]) == set(AXES)
    assert (out / "figures" / "figN1_sensitivity_scale.png").exists()
    # Models that learned random labels do worse on the true test labels.
    from lowcap.run.store import Store
    from lowcap.studies.sensitivity_scale.report import measured_models

    store = Store(out / "store" / "results.sqlite")
    models = measured_models(store)
    store.close()
    test_acc = {kind: np.mean([m["test_acc"] for m in models if m["factors"]["labels"] == kind
                               and m["factors"]["dataset"] == "digits"])
                for kind in ("true", "random")}
    assert test_acc["true"] > test_acc["random"] + 0.15
