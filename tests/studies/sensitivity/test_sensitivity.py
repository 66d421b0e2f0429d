"""Jacobian norms against autograd, and exact linear-region transition counts."""

import math

import pytest
import torch
from references import jacobian_norm_autograd

from lowcap.models import build_mlp, init_params
from lowcap.models.forward import sigmoid_slope
from lowcap.studies.sensitivity import jacobian as sens


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("seed", [0, 1])
def test_jacobian_norm_equals_autograd(activation, seed):
    params = {k: v.double() * (4 if k == "w1" else 1)
              for k, v in init_params(7 + seed, seed).items()}
    model = build_mlp(params, activation)
    x = torch.rand(6, 784, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    ours = sens.jacobian_norm(params, x, activation)
    for i in range(6):
        jac = torch.autograd.functional.jacobian(
            lambda v: torch.sigmoid(model(v.unsqueeze(0))).squeeze(), x[i])
        assert ours[i].item() == pytest.approx(jac.norm().item(), rel=1e-10)
    torch.testing.assert_close(jacobian_norm_autograd(model, x), ours)


def test_autograd_norm_handles_multiclass_softmax():
    model = torch.nn.Sequential(torch.nn.Linear(784, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    x = torch.rand(4, 784)
    ours = jacobian_norm_autograd(model, x)
    for i in range(4):
        jac = torch.autograd.functional.jacobian(
            lambda v: torch.softmax(model(v.unsqueeze(0)), -1).squeeze(0), x[i])
        assert ours[i].item() == pytest.approx(jac.norm().item(), rel=1e-5)


def threshold_model(thresholds):
    """Units j: x[0] − t_j, so unit j switches where the first pixel crosses t_j."""
    h = len(thresholds)
    w1 = torch.zeros(h, 784, dtype=torch.float64)
    w1[:, 0] = 1.0
    return {"w1": w1, "b1": -torch.tensor(thresholds, dtype=torch.float64),
            "w2": torch.ones(1, h, dtype=torch.float64), "b2": torch.zeros(1, dtype=torch.float64)}


def test_transitions_exact_on_a_line():
    params = threshold_model([0.25, 0.5, 0.75, 1.5, -0.3])
    line = torch.zeros(1000, 784, dtype=torch.float64)
    line[:, 0] = torch.linspace(0, 1, 1000, dtype=torch.float64)
    assert sens.transitions(params, line, closed=False) == 3


def test_transitions_exact_on_an_ellipse():
    a, b, c = (torch.zeros(784, dtype=torch.float64) for _ in range(3))
    a[0], b[0], c[0] = 1.0, 0.0, 0.5
    a[1], b[1], c[1] = 0.0, 1.0, 0.2
    g0 = (a[0] + b[0] + c[0]).item() / 3
    amplitude = math.hypot(a[0].item() - g0, (c[0] - b[0]).item() / math.sqrt(3))
    inside = [g0 - 0.9 * amplitude, g0, g0 + 0.5 * amplitude]
    outside = [g0 + 1.1 * amplitude, g0 - 2 * amplitude]
    params = threshold_model(inside + outside)
    trajectory = sens.ellipse(a, b, c, 4096)
    assert torch.allclose(trajectory[0], a)  # e(0) = a
    assert sens.transitions(params, trajectory) == 2 * len(inside)


def test_transitions_converge_with_points():
    params = {k: v.double() for k, v in init_params(64, 3).items()}
    gen = torch.Generator().manual_seed(0)
    a, b, c = torch.rand(3, 784, dtype=torch.float64, generator=gen)
    counts = [sens.transitions(params, sens.ellipse(a, b, c, k)) for k in (2048, 4096, 8192)]
    assert counts[0] > 0
    assert abs(counts[2] - counts[1]) / counts[1] < 0.01


def test_coarse_transitions_are_every_second_point_of_the_fine_trajectory():
    """The phase counts both resolutions from one pattern: the k-point ellipse is exactly the
    even points of the 2k-point one."""
    gen = torch.Generator().manual_seed(4)
    a, b, c = torch.rand(3, 784, generator=gen)
    fine, coarse = sens.ellipse(a, b, c, 4096), sens.ellipse(a, b, c, 2048)
    assert torch.equal(fine[::2], coarse)
    params = {"w1": torch.randn(16, 784, generator=gen) * 0.1, "b1": torch.randn(16, generator=gen),
              "w2": torch.randn(1, 16, generator=gen), "b2": torch.zeros(1)}
    pattern = sens.hidden_pattern(params, fine)
    assert sens.count_transitions(pattern[::2]) == sens.transitions(params, coarse)
    assert sens.count_transitions(pattern) == sens.transitions(params, fine)


def test_sigmoid_slope_is_exact_in_float32_for_large_logits():
    f = torch.linspace(-40, 40, 801)
    exact = (torch.sigmoid(f.double()) * torch.sigmoid(-f.double()))
    ours = sigmoid_slope(f).double()
    torch.testing.assert_close(ours, exact, rtol=1e-6, atol=0)
    naive = (torch.sigmoid(f) * (1 - torch.sigmoid(f))).double()
    assert ((naive - exact).abs() / exact)[f.abs() > 12].max() > 0.01  # what it replaces


def test_jacobian_norm_at_large_logits_matches_float64_autograd():
    params = init_params(8, 0)
    params = {**params, "b2": torch.tensor([14.0], dtype=torch.float64)}  # |f| > 12
    x = torch.rand(20, 784, dtype=torch.float64)
    reference = jacobian_norm_autograd(build_mlp(params), x)
    ours = sens.jacobian_norm({k: v.float() for k, v in params.items()}, x.float())
    torch.testing.assert_close(ours.double(), reference, rtol=1e-4, atol=0)


def test_novak_norm_is_the_two_class_softmax_jacobian():
    params = init_params(6, 1)
    x = torch.rand(5, 784, dtype=torch.float64)
    mlp = build_mlp(params)

    class TwoLogits(torch.nn.Module):  # softmax(0, f) = (1 − σ(f), σ(f))
        def forward(self, v):
            f = mlp(v)
            return torch.cat([torch.zeros_like(f), f], dim=-1)

    softmax_norm = jacobian_norm_autograd(TwoLogits(), x)
    torch.testing.assert_close(softmax_norm, sens.NOVAK_SCALE * sens.jacobian_norm(params, x))


def test_near_data_is_half_the_ellipse_around_its_three_points():
    a, b, c = torch.rand(3, 784, dtype=torch.float64)
    points = 3000
    near = sens.near_data(points)
    assert int(near.sum()) == points // 2
    trajectory = sens.ellipse(a, b, c, points)
    for k, x in ((0, a), (points // 3, c), (2 * points // 3, b)):  # θ = 0, 2π/3, 4π/3
        torch.testing.assert_close(trajectory[k], x)
        assert near[k]
    for k in (points // 6, points // 2, 5 * points // 6):  # midway between data points
        assert not near[k]


def test_switches_sum_to_the_closed_transition_count():
    pattern = torch.rand(100, 7) > 0.5
    assert int(sens.switches(pattern).sum()) == sens.count_transitions(pattern)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_a_stack_measures_every_model_as_it_would_alone(activation):
    """Models of different widths stacked: logits, Jacobian norms (the explicit N × 784
    Jacobian, written out here) and per-model switch counts equal each model's own."""
    models = [{k: v.double() * (3 if k == "w1" else 1) for k, v in init_params(h, h).items()}
              for h in (1, 5, 12)]
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(40, 784, dtype=torch.float64, generator=gen)
    stack = sens.ModelStack.of(models, activation)
    logits, norms = stack.logits_and_jacobian_norms(x)
    trajectory = sens.ellipse(x[0], x[1], x[2], 256)
    for m, params in enumerate(models):
        z = x @ params["w1"].T + params["b1"]
        hidden = torch.relu(z) if activation == "relu" else torch.tanh(z)
        slope = (z > 0).double() if activation == "relu" else 1 - hidden**2
        f = hidden @ params["w2"].reshape(-1) + params["b2"]
        jacobian = sigmoid_slope(f)[:, None] * ((slope * params["w2"]) @ params["w1"])
        torch.testing.assert_close(logits[:, m], f, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(norms[:, m], jacobian.norm(dim=1), rtol=1e-9, atol=1e-15)
        alone = sens.switches(sens.hidden_pattern(params, trajectory))
        assert stack.switches(trajectory)[:, m].tolist() == alone.double().tolist()
        assert stack.switches(trajectory, every=2)[:, m].sum() == sens.count_transitions(
            sens.hidden_pattern(params, trajectory[::2]))
