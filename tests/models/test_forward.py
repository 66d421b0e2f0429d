"""One forward pass: every analysis computes with the model's own activation, ReLU or tanh,
checked against plain nn.Modules, Captum, autograd and brute force; and a tanh run's stored
analyses are those of the tanh network."""

from __future__ import annotations

import sqlite3

import pytest
import torch
import yaml
from references import captum_saliency, jacobian_norm_autograd
from safetensors.torch import load_file

from lowcap.models.forward import every_hidden_layer, forward
from lowcap.models.mlp import build_mlp, init_params
from lowcap.studies.dead_neurons.units import dead_units
from lowcap.studies.saliency import maps
from lowcap.studies.sensitivity import jacobian

ACTIVATIONS = ["relu", "tanh"]


@pytest.fixture
def model() -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    params = {k: v.float() for k, v in init_params(6, seed=3).items()}
    x = torch.rand(12, 784, generator=torch.Generator().manual_seed(0))
    return params, x


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_equals_the_plain_module(model, activation):
    params, x = model
    reference = build_mlp(params, activation)(x).squeeze(-1)
    assert torch.allclose(forward(params, x, activation), reference, atol=1e-6)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_saliency_gradient_equals_captum(model, activation):
    params, x = model
    expected = captum_saliency(params, x, activation)
    assert torch.allclose(maps.gradient(params, x, activation), expected, rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_finite_difference_equals_brute_force(model, activation):
    params, x = model
    eps = 0.01
    fd = maps.finite_difference(params, x, eps, activation)
    base = torch.sigmoid(forward(params, x, activation))
    for pixel in (0, 300, 406, 783):
        moved = x.clone()
        moved[:, pixel] += eps
        brute = (torch.sigmoid(forward(params, moved, activation)) - base).abs()
        assert torch.allclose(fd[:, pixel], brute, atol=1e-6)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_jacobian_norm_equals_autograd(model, activation):
    params, x = model
    expected = jacobian_norm_autograd(build_mlp(params, activation), x)
    assert torch.allclose(jacobian.jacobian_norm(params, x, activation), expected, rtol=1e-4)


def test_dead_units_follow_the_activation():
    """A unit whose pre-activation is negative on every input is dead for ReLU (output 0)
    but not for tanh (its output still varies); a saturated one is dead for both."""
    params = {k: v.float() for k, v in init_params(3, seed=0).items()}
    params["w1"][1], params["b1"][1] = -0.01, -0.5  # z in [-8.3, -0.5] on [0, 1] pixels
    params["w1"][2], params["b1"][2] = 0.0001, -100.0  # tanh(z) = -1 in float32
    x = torch.rand(50, 784, generator=torch.Generator().manual_seed(1))
    relu, tanh = dead_units(params, x, "relu"), dead_units(params, x, "tanh")
    assert relu[1] and relu[2] and not tanh[1] and tanh[2]
    assert (every_hidden_layer(params, x, "tanh")[0][:, 1] < 0).all()


@pytest.mark.slow
def test_a_tanh_runs_analyses_use_tanh(tmp_path, run_cli):
    """Every analysis of a tanh run: pruning, dead neurons, t-SNE, robustness and saliency
    store what the tanh network computes (a ReLU pass would give other numbers)."""
    config = {
        "profile": "tanh", "widths": [4, 8], "epochs": 2, "activation": "tanh",
        "protocols": {"corrected": {"seeds": [0]}}, "capacity": {"pairs": [[4, 9]]},
        "pruning": {"levels": [0.5], "methods": ["layerwise"], "rounding": ["floor"]},
        "dead_neurons": {"models": [[4, 9, 8]], "level": 0.5},
        "tsne": {"pair": [4, 9], "hidden": 8, "max_points": 60, "level": 0.5, "embeddings": 1},
        "robustness": {"pair": [4, 9], "widths": [8], "sigmas": [0.0], "mnist_c": [],
                       "mnist_c_parity": [], "severities": [1]},
        "saliency": {"pair": [4, 9], "hidden": 8, "max_images": 10, "level": 0.5}}
    path = tmp_path / "tanh.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    code, _, err = run_cli("reproduce", "--config", str(path), "--out", str(out), "--quiet",
                           "--device", "cpu", "--no-report")
    assert code == 0, err
    db = sqlite3.connect(out / "store" / "results.sqlite")
    (checkpoint,) = db.execute("SELECT checkpoint FROM models WHERE hidden = 8").fetchone()
    params = {k: v.float() for k, v in load_file(out / checkpoint).items()}
    stored = load_file(out / "store" / "saliency-corrected.safetensors")
    images = stored["images"].nan_to_num()
    assert torch.allclose(stored["gradient"], maps.gradient(params, images, "tanh"), atol=1e-7)
    assert not torch.allclose(stored["gradient"], maps.gradient(params, images, "relu"),
                              atol=1e-7)
    # Pruning's dense evaluation is the trained (tanh) cohort's own last validation F1, and
    # robustness at σ = 0 its test F1.
    epochs = dict(db.execute("SELECT model_id, val_f1 FROM epochs WHERE epoch = 1"))
    dense = {(mid, metric): value for mid, _params, metric, value in db.execute(
        "SELECT model_id, params, metric, value FROM results WHERE analysis = 'pruning' AND "
        "params LIKE '%dense%'")}
    assert len(epochs) == 2
    for mid, f1 in epochs.items():
        assert dense[(mid, "val_f1")] == pytest.approx(f1, abs=1e-6)
    ((mid, f1),) = db.execute("SELECT model_id, value FROM results WHERE analysis = "
                              "'robustness' AND metric = 'test_f1' AND params LIKE "
                              "'%gaussian%'").fetchall()
    assert f1 == pytest.approx(dense[(mid, "test_f1")], abs=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_module_holds_its_parameters_in_their_own_float_type(dtype):
    """A float64 model (the reference protocol's) stays float64 to the last bit: a float32
    layer in between would round it."""
    params = {k: (v.double() / 3).to(dtype) for k, v in init_params(5, 0, depth=2).items()}
    module = build_mlp(params)
    held = [p.detach() for p in module.parameters()]
    assert all(p.dtype == dtype for p in held)
    flat = [params[f"{kind}{k}"].reshape(-1) for k in (1, 2, 3) for kind in ("w", "b")]
    assert all(torch.equal(p.reshape(-1), q) for p, q in zip(held, flat, strict=True))
