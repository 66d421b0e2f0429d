"""Narrow networks: projection, mirrored initialisation, and the σ_min tracker."""

import numpy as np
import pytest
import torch

from lowcap.studies.narrow import methods as narrow


def test_projection_lands_in_ball_and_is_identity_inside():
    gen = torch.Generator().manual_seed(0)
    w0 = torch.randn(4, 6, 5, generator=gen, dtype=torch.float64)
    step = torch.randn(4, 6, 5, generator=gen, dtype=torch.float64)
    radius = torch.tensor([0.1, 1.0, 10.0, 100.0], dtype=torch.float64)
    projected = narrow.project(w0 + step, w0, radius)
    distance = (projected - w0).flatten(1).norm(dim=1)
    assert torch.all(distance <= radius * (1 + 1e-12))
    inside = step.flatten(1).norm(dim=1) <= radius
    assert inside.tolist() == [False, False, True, True]
    torch.testing.assert_close(projected[inside], (w0 + step)[inside], rtol=0, atol=0)
    # Outside the ball the projection is the closest point: on the sphere, along the same ray.
    outside = ~inside
    torch.testing.assert_close(distance[outside], radius[outside])
    cos = torch.nn.functional.cosine_similarity(
        (projected - w0)[outside].flatten(1), step[outside].flatten(1))
    torch.testing.assert_close(cos, torch.ones_like(cos))


@pytest.mark.parametrize("activation", sorted(narrow.ACTIVATIONS))
def test_mirrored_init_gives_zero_function(activation):
    w, v = narrow.mirrored_init(3, 8, 20, seed=1)
    x = torch.randn(50, 20, dtype=torch.float64)
    f = narrow.forward(w, v, x, activation)
    assert torch.allclose(f, torch.zeros_like(f), atol=1e-15)
    assert not torch.allclose(w, torch.zeros_like(w))


def test_mirrored_init_needs_even_width():
    with pytest.raises(ValueError, match="even width"):
        narrow.mirrored_init(1, 7, 20, seed=0)


@pytest.mark.parametrize("activation", sorted(narrow.ACTIVATIONS))
def test_sigma_min_matches_svdvals_of_explicit_jacobian(activation):
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(30, 8, generator=gen, dtype=torch.float64)
    w = torch.randn(2, 6, 8, generator=gen, dtype=torch.float64)  # m·d = 48 ≥ n = 30
    v = torch.randn(2, 6, generator=gen, dtype=torch.float64)
    ours = narrow.smallest_singular_value(w, v, x, activation)
    for b in range(2):
        jac = narrow.feature_jacobian(w[b], v[b], x, activation)
        assert jac.shape == (30, 48)
        # The explicit Jacobian is also autograd's: check one row against it.
        vb = v[b:b + 1]
        row = torch.autograd.functional.jacobian(
            lambda wb, vb=vb: narrow.forward(wb.unsqueeze(0), vb, x[:1], activation).sum(), w[b])
        torch.testing.assert_close(row.flatten(), jac[0])
        expected = torch.linalg.svdvals(jac).min()
        assert ours[b].item() == pytest.approx(expected.item(), rel=1e-6)


def test_training_starts_at_zero_function_and_learns():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 10, generator=gen, dtype=torch.float64)
    x = x / x.norm(dim=1, keepdim=True)
    y = torch.randn(40, generator=gen, dtype=torch.float64)
    settings = [narrow.Setting("projected_sgd", 0.5, 10.0, seed) for seed in (0, 1)]
    run, members = narrow.train(x, y, 8, settings, steps=30, batch_size=10)
    assert len(members) == 2 and run.loss.shape[0] == 2
    assert run.loss[:, 0] == pytest.approx(0.5 * float((y**2).mean()))  # f ≡ 0 at the start
    free, _ = narrow.train(x, y, 8, [narrow.Setting("sgd", 0.0, 10.0, s) for s in (0, 1)],
                           steps=30, batch_size=10)
    assert free.loss[:, -1].mean() < run.loss[:, 0].mean()


def test_sigma_min_along_training_matches_explicit_jacobian():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(30, 10, generator=gen, dtype=torch.float64)
    x = x / x.norm(dim=1, keepdim=True)
    y = torch.randn(30, generator=gen, dtype=torch.float64)
    run, _ = narrow.train(x, y, 8, [narrow.Setting("projected_gd", 2.0, 10.0, s) for s in (0, 1)],
                          steps=20)
    sigma = run.sigma_min([1], x, "tanh")
    assert sigma.shape == (1, len(run.steps))
    for t, w in enumerate(run.weights):
        jac = narrow.feature_jacobian(w[1], run.v[1], x, "tanh")
        assert sigma[0, t] == pytest.approx(float(torch.linalg.svdvals(jac).min()), rel=1e-8)


def test_best_setting_is_lowest_mean_final_loss_ignoring_nan():
    finals = {(0.5, 10.0): np.array([1.0, 3.0]), (2.0, 10.0): np.array([np.nan, 1.5]),
              (8.0, 10.0): np.array([np.nan, np.nan])}
    assert narrow.best_setting(finals) == (2.0, 10.0)


def test_initial_sigma_min_is_step_zero_of_every_method():
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(20, 6, generator=gen, dtype=torch.float64)
    y = torch.randn(20, generator=gen, dtype=torch.float64)
    initial = narrow.initial_sigma_min(8, [0, 1], x, "tanh")
    for method in ("projected_gd", "adam"):
        run, members = narrow.train(x, y, 8, narrow.grid([method], [2.0], [0.1], [0.1], [0, 1]),
                                    steps=10)
        at_start = run.sigma_min([0, 1], x, "tanh")[:, 0]
        assert at_start.tolist() == [initial[member.seed] for member in members]


@pytest.mark.parametrize("activation", sorted(narrow.ACTIVATIONS))
def test_loss_gradient_equals_autograd(activation):
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(25, 6, generator=gen, dtype=torch.float64)
    y = torch.randn(25, generator=gen, dtype=torch.float64)
    w = torch.randn(3, 8, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    v = torch.randn(3, 8, generator=gen, dtype=torch.float64)
    loss = (0.5 * (narrow.forward(w, v, x, activation) - y) ** 2).mean(1).sum()
    (expected,) = torch.autograd.grad(loss, w)
    ours = narrow.loss_gradient(w.detach(), v, x, y, activation)
    torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-14)


def test_every_method_trained_together_equals_each_trained_alone():
    """The study trains all methods of a width as one batch: each row's loss curve and weights
    equal those of its method trained on its own (the mini-batch stream is shared as each
    method alone draws it)."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(60, 10, generator=gen, dtype=torch.float64)
    x = x / x.norm(dim=1, keepdim=True)
    y = torch.randn(60, generator=gen, dtype=torch.float64)
    settings = narrow.grid(list(narrow.METHODS), [0.5, 4.0], [10.0], [0.05], [0, 1])
    together, members = narrow.train(x, y, 8, settings, steps=25, batch_size=12)
    assert sorted(members) == sorted(settings) and members[0].method == "projected_gd"
    for method in narrow.METHODS:
        alone, alone_members = narrow.train(
            x, y, 8, [s for s in settings if s.method == method], steps=25, batch_size=12)
        rows = [members.index(member) for member in alone_members]
        np.testing.assert_allclose(together.loss[rows], alone.loss, rtol=1e-12, atol=0)
        torch.testing.assert_close(together.weights[-1][rows], alone.weights[-1],
                                   rtol=1e-12, atol=1e-15)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown method 'rmsprop'"):
        narrow.grid(["rmsprop"], [1.0], [1.0], [1.0], [0])
