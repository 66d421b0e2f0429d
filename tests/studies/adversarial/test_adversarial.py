"""Adversarial robustness: the batched attacks equal Foolbox 3's on the same start, model by
model; the claim never holds on noise and holds on a clear effect; the command measures a
finished run's models.

Foolbox, not torchattacks or the Adversarial Robustness Toolbox: torchattacks pins
requests 2.25 (the docs toolchain needs a newer one) and ART brings a framework-agnostic
stack for what is three attacks here. Foolbox's attacks are written for PyTorch models and
expose the random start (`get_random_start`) that a fair comparison must share."""

from __future__ import annotations

import json

import eagerpy as ep
import foolbox as fb
import numpy as np
import pytest
import torch
from torch import nn

from lowcap.models.mlp import InitSpec, build_mlp, init_params
from lowcap.report.claims import check_claims
from lowcap.studies.adversarial.attacks import (
    attack,
    logit_gradient_norms,
    random_start,
    stack_models,
)
from lowcap.studies.adversarial.claims import CLAIMS

WIDTHS = (3, 8, 16)


class TwoClass(nn.Module):
    """A binary model as the two-class logits (0, f) an attack library expects."""

    def __init__(self, params: dict[str, torch.Tensor]):
        super().__init__()
        self.net = build_mlp(params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.net(x.flatten(1))
        return torch.cat([torch.zeros_like(f), f], dim=1)


class FixedStart:
    """A Foolbox attack whose random start is the one given."""

    def __init__(self, cls, start: torch.Tensor, **kwargs):
        outer = self

        class Attack(cls):
            def get_random_start(self, x0, epsilon):
                return ep.astensor(outer.start)

        self.start, self.attack = start, Attack(**kwargs)


@pytest.fixture(scope="module")
def problem(mnist):
    keep = np.flatnonzero(np.isin(mnist.test_labels, (4, 9)))[:48]
    x = torch.from_numpy(mnist.test_images[keep].reshape(len(keep), -1)).double() / 255
    y = torch.from_numpy((mnist.test_labels[keep] == 9).astype(np.float64))
    models = [{k: v.double() for k, v in init_params(h, h, InitSpec("kaiming")).items()}
              for h in WIDTHS]
    return x, y, models


def foolbox_attack(attack_obj, params, x, y, eps):
    model = fb.PyTorchModel(TwoClass(params).double().eval(), bounds=(0, 1))
    _, clipped, _ = attack_obj(model, x, y.long(), epsilons=eps)
    return clipped


@pytest.mark.parametrize("norm, eps", [("linf", 0.1), ("l2", 1.0)])
def test_pgd_on_every_model_at_once_equals_foolbox_model_by_model(problem, norm, eps):
    x, y, models = problem
    stack = stack_models(models)
    generator = torch.Generator().manual_seed(0)
    start = random_start(x.expand(len(models), *x.shape), eps, norm, generator)
    ours = attack(stack, x, y, "relu", norm, eps, steps=10, rel_step=0.125, start=start)
    cls = fb.attacks.LinfPGD if norm == "linf" else fb.attacks.L2PGD
    for i, params in enumerate(models):
        library = FixedStart(cls, start[i], rel_stepsize=0.125, steps=10, random_start=True)
        theirs = foolbox_attack(library.attack, params, x, y, eps)
        torch.testing.assert_close(ours[i], theirs, atol=1e-9, rtol=0)


def test_fgsm_equals_foolbox_and_moves_every_pixel_by_at_most_epsilon(problem):
    x, y, models = problem
    ours = attack(stack_models(models), x, y, "relu", "linf", 0.2, steps=1, rel_step=1.0)
    for i, params in enumerate(models):
        theirs = foolbox_attack(fb.attacks.FGSM(), params, x, y, 0.2)
        torch.testing.assert_close(ours[i], theirs, atol=1e-12, rtol=0)
    assert (ours - x).abs().max() <= 0.2 + 1e-12 and ours.min() >= 0 and ours.max() <= 1


def test_random_starts_lie_in_the_ball(problem):
    x, _, _ = problem
    generator = torch.Generator().manual_seed(1)
    linf = random_start(x.expand(2, *x.shape), 0.1, "linf", generator)
    l2 = random_start(x.expand(2, *x.shape), 1.5, "l2", generator)
    assert (linf - x).abs().max() <= 0.1 + 1e-12
    assert (l2 - x).norm(dim=-1).max() <= 1.5 + 1e-9
    assert (linf - x).abs().max() > 0.05  # not the clean images


def adversarial_section(f1) -> dict:
    """PGD-ℓ∞ F1 per (pair, ε, width, seed) from `f1(width, rng)`."""
    rng = np.random.default_rng(7)
    return {"adversarial": {"min_effect": 0.01, "f1": {}, "f1_by_seed": {
        pair: {f"pgd_linf@{eps}": {str(w): {str(s): float(f1(w, rng)) for s in range(10)}
                                   for w in (2, 8, 32)} for eps in ("0.05", "0.1")}
        for pair in ("0-1", "4-9")}}}


def verdict(section: dict, claim_id: str = "adversarial_robustness_grows_with_width") -> str:
    return next(c for c in check_claims("corrected", section, CLAIMS)
                if c["id"] == claim_id)["verdict"]


def test_the_claim_never_holds_on_noise_and_holds_on_a_clear_effect():
    verdicts = [verdict(adversarial_section(lambda w, rng, c=c: rng.normal(0.5, 0.1)))
                for c in range(20)]
    assert "holds" not in verdicts
    assert verdict(adversarial_section(
        lambda w, rng: 0.3 + 0.05 * np.log2(w) + rng.normal(0, 0.01))) == "holds"
    assert verdict(adversarial_section(
        lambda w, rng: 0.5 + 0.0005 * np.log2(w) + rng.normal(0, 0.0001))) == "negligible"
    assert verdict(adversarial_section(
        lambda w, rng: 0.8 - 0.05 * np.log2(w) + rng.normal(0, 0.01))) == "does not hold"


def trained_section(f1, change) -> dict:
    """PGD-trained twins: their PGD-ℓ∞ F1 per (pair, ε, width, seed) from `f1(width, rng)`,
    and their clean-F1 change against the natural models from `change(width, rng)`."""
    rng = np.random.default_rng(5)
    pairs, widths = ("0-1", "4-9"), (2, 8, 32)
    return {"adversarial": {"min_effect": 0.01, "f1": {}, "f1_by_seed": {},
                            "pgd_trained": {"f1": {}, "f1_by_seed": {
        pair: {"pgd_linf@0.1": {str(w): {str(s): float(f1(w, rng)) for s in range(10)}
                                for w in widths}} for pair in pairs}},
        "clean_change_by_seed": {pair: {str(w): {str(s): float(change(w, rng))
                                                 for s in range(10)} for w in widths}
                                 for pair in pairs}}}


def test_the_pgd_training_claims_never_hold_on_noise_and_hold_on_clear_effects():
    grows, costs = ("adversarial_training_robustness_grows_with_width",
                    "adversarial_training_costs_small_networks_more")
    for _ in range(20):
        noise = trained_section(lambda w, rng: rng.normal(0.5, 0.1),
                                lambda w, rng: rng.normal(-0.1, 0.1))
        assert verdict(noise, grows) != "holds" and verdict(noise, costs) != "holds"
    clear = trained_section(lambda w, rng: 0.2 + 0.1 * np.log2(w) + rng.normal(0, 0.01),
                            lambda w, rng: -0.3 / w + rng.normal(0, 0.01))  # small pay more
    assert verdict(clear, grows) == "holds" and verdict(clear, costs) == "holds"
    reverse = trained_section(lambda w, rng: 0.9 - 0.1 * np.log2(w) + rng.normal(0, 0.01),
                              lambda w, rng: -0.01 * w + rng.normal(0, 0.01))
    assert verdict(reverse, grows) == verdict(reverse, costs) == "does not hold"
    assert verdict(adversarial_section(lambda w, rng: 0.5), costs) == "inconclusive"


def lipschitz_section(constant) -> dict:
    """Empirical Lipschitz constants per (pair, width, seed) from `constant(width, rng)`."""
    rng = np.random.default_rng(11)
    return {"adversarial": {"lipschitz_min_effect": 0.1, "lipschitz": {}, "parameters": {},
                            "lipschitz_by_seed": {
        pair: {str(w): {str(s): float(constant(w, rng)) for s in range(10)} for w in (2, 8, 32)}
        for pair in ("0-1", "4-9")}}}


def test_the_lipschitz_claim_never_holds_on_noise_and_holds_on_a_clear_fall():
    claim = "lipschitz_falls_with_parameters"
    noise = [verdict(lipschitz_section(lambda w, rng, c=c: rng.lognormal(1.0, 0.3)), claim)
             for c in range(20)]
    assert "holds" not in noise
    falls = lipschitz_section(lambda w, rng: 10 / np.sqrt(w) * rng.lognormal(0, 0.05))
    assert verdict(falls, claim) == "holds"
    rises = lipschitz_section(lambda w, rng: np.sqrt(w) * rng.lognormal(0, 0.05))
    assert verdict(rises, claim) == "does not hold"


def test_the_lipschitz_constant_is_the_largest_logit_gradient_norm(problem):
    x, _, models = problem
    norms = logit_gradient_norms(stack_models(models), x.expand(len(models), *x.shape), "relu")
    for i, params in enumerate(models):
        net = build_mlp(params)
        for n in (0, 17):
            image = x[n:n + 1].clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(net(image).sum(), image)
            assert norms[i, n].item() == pytest.approx(grad.norm().item(), rel=1e-10)


@pytest.mark.slow
def test_the_command_attacks_a_runs_models_and_reports_them(run_copy, run_cli):
    code, _, err = run_cli("adversarial", str(run_copy), "--attacks", "fgsm,pgd_linf",
                           "--eps-linf", "0.1", "--steps", "5", "--max-images", "60",
                           "--quiet", "--device", "cpu")
    assert code == 0, err
    summary = json.loads((run_copy / "summary.json").read_text())
    section = summary["protocols"]["corrected"]["adversarial"]
    assert set(section["f1"]) == {"clean", "fgsm", "pgd_linf"}
    for width, f1 in section["f1"]["pgd_linf"]["0.1"].items():  # an attack lowers F1
        assert f1 <= section["f1"]["clean"]["0"][width] + 1e-9
    assert set(section["lipschitz"]) == {"2", "8", "24"}
    assert section["parameters"]["8"] == 784 * 8 + 8 + 8 + 1
    assert (run_copy / "figures" / "figV1_adversarial_corrected.png").is_file()
    assert "adversarial robustness by width" in (run_copy / "report.html").read_text()


@pytest.mark.slow
def test_the_command_trains_pgd_twins_beside_the_models_and_reports_both(run_copy, run_cli):
    code, _, err = run_cli("adversarial", str(run_copy), "--attacks", "pgd_linf", "--eps-linf",
                           "0.1", "--steps", "5", "--max-images", "40", "--training",
                           "linf,0.1,2,0.05", "--select-protocols", "corrected",
                           "--select-pairs", "4-9", "--quiet", "--device", "cpu")
    assert code == 0, err
    section = json.loads((run_copy / "summary.json").read_text())[
        "protocols"]["corrected"]["adversarial"]
    assert section["training"] == {"norm": "linf", "eps": 0.1, "steps": 2, "step_size": 0.05}
    natural, trained = section["f1_by_seed"]["4-9"], section["pgd_trained"]["f1_by_seed"]["4-9"]
    assert set(trained["clean@0"]) == set(natural["clean@0"]) == {"2", "8", "24"}
    for width, seeds in section["clean_change_by_seed"]["4-9"].items():
        for seed, change in seeds.items():
            expected = trained["clean@0"][width][seed] - natural["clean@0"][width][seed]
            assert change == pytest.approx(expected, abs=1e-12)
    from lowcap.api import open_run

    with open_run(run_copy) as run:  # each twin: its model's plan, trained on PGD inputs
        twins = run.models(study="adversarial/pgd_trained")
        assert len(twins) == 6 and set(twins.pgd_norm) == {"linf"}
        models = run.models(study="capacity", pair="4-9", protocol="corrected")
        assert sorted(zip(twins.hidden, twins.seed, strict=True)) == sorted(
            zip(models.hidden, models.seed, strict=True))
    claims = {c["id"]: c for c in json.loads((run_copy / "summary.json").read_text())[
        "protocols"]["corrected"]["claims"]}
    cost = claims["adversarial_training_costs_small_networks_more"]
    assert cost["measured"].startswith("clean-F1 cost of PGD training") and np.isfinite(
        cost["effect"])  # measured on the twins (on 2 seeds it may be inconclusive)
    assert "PGD-trained twins" in (run_copy / "report.html").read_text()


def test_the_training_option_keeps_the_configs_choice_of_twins():
    """`--training NORM,EPS,STEPS,STEP_SIZE` changes how the twins train, not which models
    get one: the config's `training.pairs` and `training.widths` stay (so does `select`)."""
    from lowcap.cli.main import _with_section
    from lowcap.studies.adversarial import STUDY
    from lowcap.studies.registry import parse_config

    cfg = parse_config({"protocols": {"corrected": {}}, "capacity": {"pairs": [[4, 9]]},
                        "adversarial": {"select": {"seeds": [0]},
                                        "training": {"pairs": [[4, 9]], "widths": [2]}}}, "t")
    changed = _with_section(cfg, "adversarial", STUDY.command.overrides(
        attacks=None, eps_linf=None, eps_l2=None, steps=None, max_images=None,
        training="l2,1.5,3,0.5"))
    training = changed.adversarial.training
    assert (training.norm, training.eps, training.steps, training.step_size) == (
        "l2", 1.5, 3, 0.5)
    assert training.pairs == [(4, 9)] and training.widths == [2]
    assert changed.adversarial.select.seeds == [0]
