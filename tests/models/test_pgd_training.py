"""Training on worst-case inputs (Madry et al. 2018) in the cohort: every update on its own
model's PGD inputs, equal to a plain nn.Module trained alone with torch.optim.SGD on the
inputs Foolbox 3's PGD finds for it (the library the adversarial study's attacks are tested
against; tests/studies/adversarial/test_adversarial.py says why Foolbox)."""

from __future__ import annotations

import foolbox as fb
import pytest
import torch
import torch.nn.functional as F
from conftest import small_split
from references import rel_err
from torch import nn

from lowcap.models import Cohort, Lane, ModelSpec, init_params
from lowcap.models.mlp import build_mlp
from lowcap.models.pgd import PGDSpec, project_step

WIDTHS = (4, 16)
LR = 0.1


class TwoClass(nn.Module):
    """A binary model as the two-class logits (0, f) an attack library expects."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.net(x)
        return torch.cat([torch.zeros_like(f), f], dim=1)


def foolbox_pgd(net: nn.Module, x: torch.Tensor, y: torch.Tensor, spec: PGDSpec
                ) -> torch.Tensor:
    cls = fb.attacks.LinfPGD if spec.norm == "linf" else fb.attacks.L2PGD
    attack = cls(abs_stepsize=spec.step_size, steps=spec.steps, random_start=False)
    model = fb.PyTorchModel(TwoClass(net).eval(), bounds=(0, 1))
    _, clipped, _ = attack(model, x, y.long(), epsilons=spec.eps)
    return clipped


@pytest.mark.parametrize(("spec", "depth"), [(PGDSpec("linf", 0.1, 5, 0.03), 1),
                                             (PGDSpec("l2", 1.5, 4, 0.5), 1),
                                             (PGDSpec("linf", 0.1, 3, 0.04), 2)],
                         ids=["linf", "l2", "linf-depth-2"])
def test_each_model_trains_on_its_own_pgd_inputs_as_foolbox_finds_them(mnist, bank, spec,
                                                                        depth):
    split = small_split(mnist, (4, 9), 0, 256)
    x, y = bank.inputs(split, "train")
    x, y = x.double(), y.double()
    # One model per lane: each lane's inputs become its model's own worst inputs.
    lanes = [Lane(split, 0, (ModelSpec(h, LR, 0),)) for h in WIDTHS]
    cohort = Cohort(lanes, dtype=torch.float64, pgd=spec, depth=depth)
    nets = [build_mlp({k: v.double() for k, v in init_params(h, 0, depth=depth).items()})
            for h in WIDTHS]
    optimisers = [torch.optim.SGD(net.parameters(), lr=LR) for net in nets]
    for start in range(0, 256, 64):
        xb, yb = x[start:start + 64], y[start:start + 64]
        cohort.step(xb.expand(len(WIDTHS), *xb.shape).contiguous(),
                    yb.expand(len(WIDTHS), -1), torch.ones(len(WIDTHS), len(yb),
                                                          dtype=torch.float64))
        for net, optimiser in zip(nets, optimisers, strict=True):
            worst = foolbox_pgd(net, xb, yb, spec)
            assert (worst - xb).abs().max() > 0  # the inputs did move
            optimiser.zero_grad()
            F.binary_cross_entropy_with_logits(net(worst).squeeze(1), yb).backward()
            optimiser.step()
    for g, net in enumerate(nets):
        for got, want in zip(cohort.module(g, 0).parameters(), net.parameters(), strict=True):
            assert rel_err(got.detach(), want.detach()) <= 1e-9, (spec.norm, WIDTHS[g])


def test_a_cohort_refuses_pgd_training_with_two_models_in_a_lane(mnist):
    split = small_split(mnist, (4, 9), 0, 64)
    with pytest.raises(ValueError, match="one model per lane"):
        Cohort([Lane(split, 0, (ModelSpec(2, LR, 0), ModelSpec(4, LR, 0)))],
               pgd=PGDSpec("linf", 0.1, 1, 0.1))


def test_a_step_stays_in_the_ball_and_the_pixel_range():
    generator = torch.Generator().manual_seed(0)
    x0 = torch.rand(3, 50, generator=generator, dtype=torch.float64)
    grad = torch.randn(3, 50, generator=generator, dtype=torch.float64)
    linf = project_step(x0, x0, grad, "linf", 0.1, 0.5)
    assert (linf - x0).abs().max() <= 0.1 + 1e-15 and linf.min() >= 0 and linf.max() <= 1
    l2 = project_step(x0, x0, grad, "l2", 0.3, 2.0)
    assert (l2 - x0).norm(dim=-1).max() <= 0.3 + 1e-12 and l2.min() >= 0 and l2.max() <= 1
