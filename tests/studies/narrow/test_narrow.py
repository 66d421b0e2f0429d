"""Narrow networks: the projection, the two starts, matched budgets, the batched trainer, σ_min,
and the verdict rule (never 'holds' on noise; inconclusive where the constraint does nothing)."""

import json

import numpy as np
import pytest
import torch

from lowcap.run.store import Store
from lowcap.studies.narrow import methods as narrow
from lowcap.studies.narrow.report import narrow_claims
from lowcap.studies.narrow.summary import narrow_summary

NOT_HOLDING = {"does not hold", "inconclusive"}


def feature_jacobian(w: torch.Tensor, v: torch.Tensor, x: torch.Tensor, activation: str
                     ) -> torch.Tensor:
    """The explicit J [n, m·d] of one run (w [m, d], v [m]), by autograd."""
    return torch.autograd.functional.jacobian(
        lambda wb: narrow.forward(wb.unsqueeze(0), v.unsqueeze(0), x, activation)[0], w
    ).reshape(x.shape[0], -1)


def test_projection_moves_a_point_outside_to_the_nearest_feasible_point():
    gen = torch.Generator().manual_seed(0)
    w0 = torch.randn(4, 6, 5, generator=gen, dtype=torch.float64)
    step = torch.randn(4, 6, 5, generator=gen, dtype=torch.float64)
    radius = torch.tensor([0.1, 1.0, 10.0, torch.inf], dtype=torch.float64)
    projected = narrow.project(w0 + step, w0, radius)
    distance = (projected - w0).flatten(1).norm(dim=1)
    assert torch.all(distance <= radius * (1 + 1e-12))
    inside = step.flatten(1).norm(dim=1) <= radius
    assert inside.tolist() == [False, False, True, True]
    torch.testing.assert_close(projected[inside], (w0 + step)[inside], rtol=0, atol=0)
    # Outside, the result is the nearest point of the ball: no point of the ball sampled at
    # random is closer to the original one.
    outside = (~inside).nonzero().flatten().tolist()
    for b in outside:
        target = (w0 + step)[b]
        candidates = torch.randn(2000, 6, 5, generator=gen, dtype=torch.float64)
        candidates = candidates / candidates.flatten(1).norm(dim=1)[:, None, None]
        candidates = w0[b] + candidates * radius[b] * torch.rand(2000, 1, 1, generator=gen,
                                                                 dtype=torch.float64)
        nearest = (candidates - target).flatten(1).norm(dim=1).min()
        assert (projected[b] - target).norm() <= nearest + 1e-12


@pytest.mark.parametrize("activation", sorted(narrow.ACTIVATIONS))
def test_the_mirrored_start_is_the_zero_function_and_lecuns_is_not(activation):
    x = torch.randn(50, 20, dtype=torch.float64)
    w, v = narrow.mirrored_init(3, 8, 20, seed=1)
    f = narrow.forward(w, v, x, activation)
    assert torch.allclose(f, torch.zeros_like(f), atol=1e-15)
    assert not torch.allclose(w, torch.zeros_like(w))
    w, v = narrow.lecun_init(3, 8, 20, seed=1)
    assert narrow.forward(w, v, x, activation).abs().max() > 1e-3
    # LeCun's scale: unit-variance pre-activations for inputs of norm √d.
    x = x * (20 ** 0.5 / x.norm(dim=1, keepdim=True))
    big = narrow.lecun_init(1, 4000, 20, seed=2)[0][0]
    assert float((x @ big.T).std()) == pytest.approx(1.0, rel=0.05)


def test_mirrored_init_needs_even_width():
    with pytest.raises(ValueError, match="even width"):
        narrow.mirrored_init(1, 7, 20, seed=0)


@pytest.mark.parametrize("activation", sorted(narrow.ACTIVATIONS))
def test_sigma_min_matches_svdvals_of_the_autograd_jacobian(activation):
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(30, 8, generator=gen, dtype=torch.float64)
    w = torch.randn(2, 6, 8, generator=gen, dtype=torch.float64)  # m·d = 48 ≥ n = 30
    v = torch.randn(2, 6, generator=gen, dtype=torch.float64)
    ours = narrow.smallest_singular_value(w, v, x, activation)
    for b in range(2):
        jac = feature_jacobian(w[b], v[b], x, activation)
        assert ours[b].item() == pytest.approx(torch.linalg.svdvals(jac).min().item(), rel=1e-6)


def test_sigma_min_at_the_start_is_each_runs_own_though_computed_once_per_start_draw():
    """The study computes σ_min at the start once per (start, seed): every run it reports
    then holds the value of its own W0 and v."""
    from lowcap.studies.narrow.compute import _sigma_min

    gen = torch.Generator().manual_seed(3)
    x = torch.randn(30, 8, generator=gen, dtype=torch.float64)
    y = torch.randn(30, generator=gen, dtype=torch.float64)
    arms = [("sgd", "lecun"), ("projected_sgd", "lecun"), ("gd", "mirrored")]
    run, members = narrow.train(x, y, 6, narrow.grid(arms, [1.0], [0.5], [0.05], [0, 1]),
                                steps=20, batch_size=10, evals=3)
    sigma = _sigma_min(run, members, x, "tanh")
    assert len(sigma) == len(members) == 6  # one (radius, lr) per arm: every run is reported
    for i, (start, end) in sigma.items():
        alone = narrow.smallest_singular_value(run.w0[[i]], run.v[[i]], x, "tanh")
        assert start == pytest.approx(float(alone[0]), rel=1e-12)
        assert end == pytest.approx(float(narrow.smallest_singular_value(
            run.w[[i]], run.v[[i]], x, "tanh")[0]), rel=1e-12)


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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_fast_tanh_is_within_two_eps_of_torch_tanh(dtype):
    z = torch.cat([torch.linspace(-30, 30, 20001, dtype=dtype),
                   torch.tensor([0.0, 1e-30, -1e-8, 1e4, -1e4, torch.inf, -torch.inf],
                                dtype=dtype)])
    exact = torch.tanh(z.double())
    assert (narrow.tanh(z).double() - exact).abs().max() <= 2 * torch.finfo(dtype).eps
    assert narrow.tanh(torch.tensor([torch.nan], dtype=dtype)).isnan().all()
    # Autograd through it (the tests' reference gradients) gives tanh's derivative.
    leaf = z[:20001].clone().requires_grad_()
    narrow.tanh(leaf).sum().backward()
    torch.testing.assert_close(leaf.grad.double(), 1 - exact[:20001] ** 2,
                               atol=8 * torch.finfo(dtype).eps, rtol=0)


def test_runs_computed_in_pieces_equal_runs_computed_at_once(monkeypatch):
    """Pieces bound the temporaries' size; each run's numbers do not depend on them."""
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(40, 7, generator=gen, dtype=torch.float64)
    y = torch.randn(40, generator=gen, dtype=torch.float64)
    w = torch.randn(9, 6, 7, generator=gen, dtype=torch.float64)
    v = torch.randn(9, 6, generator=gen, dtype=torch.float64)
    whole = narrow.forward(w, v, x, "tanh"), narrow.loss_gradient(w, v, x, y, "tanh")
    monkeypatch.setattr(narrow, "PIECE_ELEMENTS", 2 * 6 * 40)  # two runs a piece, one left
    assert len(narrow._pieces(w, 40)) == 5
    pieces = narrow.forward(w, v, x, "tanh"), narrow.loss_gradient(w, v, x, y, "tanh")
    for a, b in zip(whole, pieces, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-15)


def _problem(n: int = 60, d: int = 10, seed: int = 3):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    return x * (d ** 0.5 / x.norm(dim=1, keepdim=True)), torch.randn(n, generator=gen,
                                                                     dtype=torch.float64)


def test_every_arm_trained_together_equals_each_trained_alone():
    """The study trains every arm of a width as one batch: each row's loss curve and weights
    equal those of its arm trained on its own (the mini-batch stream is shared as each arm
    alone draws it)."""
    x, y = _problem()
    arms = [(m, s) for m in narrow.METHODS for s in narrow.STARTS]
    settings = narrow.grid(arms, [0.5, 4.0], [0.5], [0.05], [0, 1])
    together, members = narrow.train(x, y, 8, settings, steps=30, batch_size=12, evals=4)
    assert sorted(members) == sorted(settings) and members[0].full_batch
    for arm in arms:
        alone, alone_members = narrow.train(x, y, 8, [s for s in settings
                                                      if (s.method, s.start) == arm],
                                            steps=30, batch_size=12, evals=4)
        rows = [members.index(member) for member in alone_members]
        np.testing.assert_allclose(together.loss[rows], alone.loss, rtol=1e-12, atol=0)
        torch.testing.assert_close(together.w[rows], alone.w, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("method", ["sgd", "gd", "adam"])
def test_twins_are_matched_a_ball_that_never_binds_changes_nothing(method):
    """A projected arm and its plain twin share the start, the learning rate, the batches and
    the budget: with a radius the run never reaches, they are the same run, bit for bit; a
    small radius holds the projected one on its ball's boundary."""
    x, y = _problem()
    loose = [narrow.Setting(f"projected_{method}", "mirrored", 1e6, 0.5, 0),
             narrow.Setting(method, "mirrored", 0.0, 0.5, 0),
             narrow.Setting(f"projected_{method}", "mirrored", 0.05, 0.5, 0)]
    run, members = narrow.train(x, y, 8, loose, steps=40, batch_size=12, evals=3)
    rows = {s.radius if s.projected else None: i for i, s in enumerate(members)}
    np.testing.assert_array_equal(run.loss[rows[1e6]], run.loss[rows[None]])
    torch.testing.assert_close(run.w[rows[1e6]], run.w[rows[None]], rtol=0, atol=0)
    assert run.on_boundary().tolist() == [s.radius == 0.05 for s in members]


def test_full_batch_runs_see_as_many_examples_as_mini_batch_runs():
    """The budget is examples seen: with n = 60 and batches of 12, a full-batch run updates
    every 5 steps, so over 40 steps it makes 8 updates; GD by hand agrees."""
    x, y = _problem()
    assert narrow.full_batch_every(60, 12) == 5
    run, _ = narrow.train(x, y, 8, [narrow.Setting("gd", "lecun", 0.0, 0.5, 0)], steps=40,
                          batch_size=12, evals=2)
    w, v = narrow.lecun_init(1, 8, 10, 0)
    for _ in range(8):
        w = w - 0.5 * narrow.loss_gradient(w, v, x, y, "tanh")
    torch.testing.assert_close(run.w, w, rtol=1e-12, atol=1e-14)


def test_a_mini_batch_run_is_sgd_by_hand_on_the_shared_batch_stream():
    x, y = _problem()
    run, _ = narrow.train(x, y, 8, [narrow.Setting("sgd", "mirrored", 0.0, 0.5, 1)], steps=15,
                          batch_size=12, evals=2)
    w, v = narrow.mirrored_init(1, 8, 10, 1)
    batches = torch.randint(0, 60, (15, 12), generator=torch.Generator().manual_seed(12345))
    for idx in batches:
        w = w - 0.5 * narrow.loss_gradient(w, v, x[idx], y[idx], "tanh")
    torch.testing.assert_close(run.w, w, rtol=1e-12, atol=1e-14)


def test_an_adam_run_is_torch_adam_on_the_shared_batch_stream():
    """Adam's moments are kept for the Adam runs alone, beside SGD and GD runs: each Adam run
    is torch.optim.Adam on the same batches, and its SGD twin is still SGD by hand."""
    x, y = _problem()
    settings = [narrow.Setting("adam", "mirrored", 0.0, 0.05, 1),
                narrow.Setting("sgd", "mirrored", 0.0, 0.5, 1),
                narrow.Setting("gd", "mirrored", 0.0, 0.5, 1)]
    run, members = narrow.train(x, y, 8, settings, steps=15, batch_size=12, evals=2)
    assert [s.method for s in members] == ["gd", "sgd", "adam"]
    w0, v = narrow.mirrored_init(1, 8, 10, 1)
    w = w0.clone().requires_grad_()
    optimiser = torch.optim.Adam([w], lr=0.05, eps=1e-8)
    batches = torch.randint(0, 60, (15, 12), generator=torch.Generator().manual_seed(12345))
    for idx in batches:
        optimiser.zero_grad()
        (0.5 * (narrow.forward(w, v, x[idx], "tanh") - y[idx]) ** 2).mean().backward()
        optimiser.step()
    torch.testing.assert_close(run.w[2:], w.detach(), rtol=1e-9, atol=1e-12)
    sgd = w0.clone()
    for idx in batches:
        sgd = sgd - 0.5 * narrow.loss_gradient(sgd, v, x[idx], y[idx], "tanh")
    torch.testing.assert_close(run.w[1:2], sgd, rtol=1e-12, atol=1e-14)


def test_training_from_the_mirrored_start_begins_at_half_the_mean_square_target_and_learns():
    x, y = _problem(40, 10)
    settings = [narrow.Setting("projected_sgd", "mirrored", 0.5, 1.0, seed) for seed in (0, 1)]
    run, _ = narrow.train(x, y, 8, settings, steps=60, batch_size=10)
    assert run.loss[:, 0] == pytest.approx(0.5 * float((y**2).mean()))  # f ≡ 0 at the start
    assert run.loss[:, -1].mean() < run.loss[:, 0].mean()


def test_best_setting_is_lowest_mean_final_loss_ignoring_nan():
    finals = {(0.5, 10.0): np.array([1.0, 3.0]), (2.0, 10.0): np.array([np.nan, 1.5]),
              (8.0, 10.0): np.array([np.nan, np.nan])}
    assert narrow.best_setting(finals) == (2.0, 10.0)


def test_unknown_arms_are_refused():
    with pytest.raises(ValueError, match="unknown arm rmsprop@lecun"):
        narrow.grid([("rmsprop", "lecun")], [1.0], [1.0], [1.0], [0])
    with pytest.raises(ValueError, match="unknown arm sgd@zeros"):
        narrow.grid([("sgd", "zeros")], [1.0], [1.0], [1.0], [0])


RADII = [0.25, 1.0, 4.0, 16.0]


def narrow_store(path, rng: np.random.Generator, factor: float, radius: float = 1.0,
                 on_boundary: float = 1.0, seeds: int = 8) -> Store:
    """A store of the paper's two arms at one width, m = 2n/d: SGD from LeCun's start and
    projected SGD from the mirrored one, each seed's final loss lognormal noise, SGD's times
    `factor`."""
    store = Store(path)
    rows = []
    for arm, r in (("sgd@lecun", None), ("projected_sgd@mirrored", radius)):
        method, start = arm.split("@")
        for seed in range(seeds):
            loss = rng.lognormal(-2, 0.3) * (factor if method == "sgd" else 1.0)
            params = {"dataset": "synthetic", "method": method, "start": start, "width": 40,
                      "ratio": 1.0, "radius": r, "lr": 0.5, "seed": seed}
            rows += [(f"{arm}-{seed}", {**params, "step": step}, "loss", value)
                     for step, value in ((0, 0.5), (100, loss))]
            rows += [(f"{arm}-{seed}", params, "travelled", 1.0),
                     (f"{arm}-{seed}", params, "on_boundary",
                      float(r is not None and seed < on_boundary * seeds))]
    with store.transaction() as db:
        db.executemany("INSERT INTO results VALUES ('narrow', ?, ?, ?, ?)",
                       [(m, json.dumps(p, sort_keys=True), k, v) for m, p, k, v in rows])
    return store


def _verdict(store: Store) -> dict:
    (claim,) = narrow_claims(narrow_summary(store, 0.01, RADII))
    return claim


def test_the_verdict_never_holds_on_noise_and_holds_on_a_clear_effect(tmp_path):
    """Noise alone does not make it hold: not on this draw, and over 40 draws no more often
    than a one-sided 2.5% test allows (at most 4)."""
    rng = np.random.default_rng(9)
    verdicts = [_verdict(narrow_store(tmp_path / f"n{trial}.sqlite", rng, 1.0))["verdict"]
                for trial in range(40)]
    assert verdicts[0] in NOT_HOLDING and verdicts.count("holds") <= 4
    effect = _verdict(narrow_store(tmp_path / "e.sqlite", rng, 3.0))
    assert effect["verdict"] == "holds" and effect["margin"] > 0
    worse = _verdict(narrow_store(tmp_path / "w.sqlite", rng, 1 / 3))
    assert worse["verdict"] == "does not hold"


@pytest.mark.parametrize(("change", "reason"), [
    ({"on_boundary": 0.0}, "constraint is active in 0%"),
    ({"radius": 16.0}, "grid's edge"),
    ({"radius": 0.25}, "grid's edge"),
    ({"seeds": 3}, "3 seeds"),
])
def test_a_clear_effect_is_inconclusive_where_the_rule_cannot_read_it(tmp_path, change, reason):
    """The projection did nothing (the constraint never active), the grid did not bracket the
    best radius, or too few seeds: inconclusive, however large the effect."""
    claim = _verdict(narrow_store(tmp_path / "s.sqlite", np.random.default_rng(4), 3.0,
                                  **change))
    assert claim["verdict"] == "inconclusive" and reason in claim["measured"], claim["measured"]


def test_a_config_of_an_earlier_lowcap_reads_its_methods_as_mirrored_arms():
    """Run folders made before the matched design store `narrow.methods`: they still open,
    each method started mirrored as it was then."""
    from lowcap.studies.narrow.config import NarrowConfig

    old = NarrowConfig.model_validate({"methods": ["projected_gd", "sgd"], "radii": [1.0]})
    assert old.arms == [("projected_gd", "mirrored"), ("sgd", "mirrored")]
    with pytest.raises(ValueError, match="arms"):
        NarrowConfig.model_validate({"methods": "sgd"})
