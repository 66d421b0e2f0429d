"""What training on PGD inputs costs: one update of a cohort of one-model lanes (the paper's
widths × 3 seeds on pair 4-9, batch 128) on its worst-case inputs (7 ℓ∞ steps of 0.018 within
ε = 0.05), against the natural update of the same models, and against the naive baseline: each
model an nn.Module, its PGD by autograd, its update by torch.optim.SGD, one after another.

The cohort trains one width per cohort (no padding), as lowcap lays PGD-trained models out;
the times below are summed over the widths. Prints ms per update and the ratios, with the
float32 GEMM peak measured in the same run.

    python benchmarks/bench_pgd_training.py [--device cuda] [--steps 20]
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from bench_gpu import BATCH, LR, SEEDS, batch_of
from flops import benchmark_inputs, gemm_peak, interleaved, machine

from lowcap.data import make_split
from lowcap.models import Cohort, Lane, ModelSpec
from lowcap.models.pgd import PGDSpec, loss_gradient, project_step
from lowcap.run.config import PAPER_WIDTHS

SPEC = PGDSpec("linf", 0.05, 7, 0.018)


def naive_step(nets, optimisers, x: torch.Tensor, y: torch.Tensor) -> None:
    """Each model alone: autograd PGD on its batch, then one SGD update."""
    for i, (net, optimiser) in enumerate(zip(nets, optimisers, strict=True)):
        adv = x[i]
        for _ in range(SPEC.steps):
            grad = loss_gradient(lambda inputs, net=net: net(inputs).squeeze(-1), adv, y[i])
            adv = project_step(adv, x[i], grad, SPEC.norm, SPEC.eps, SPEC.step_size)
        optimiser.zero_grad()
        F.binary_cross_entropy_with_logits(net(adv).squeeze(-1), y[i]).backward()
        optimiser.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    args, device, mnist, bank = benchmark_inputs(parser)
    splits = [make_split(mnist.train_labels, mnist.test_labels, (4, 9), seed) for seed in SEEDS]
    peak = gemm_peak(device)
    print(machine(device))
    print(f"device {device}, float32 GEMM peak {peak:.0f} GFLOP/s, "
          f"{len(PAPER_WIDTHS) * len(SEEDS)} models, batch {BATCH}, {SPEC}")
    totals = {"natural (cohort)": 0.0, "PGD (cohort)": 0.0, "PGD (naive loop)": 0.0}
    for width in PAPER_WIDTHS:
        lanes = [Lane(split, seed, (ModelSpec(width, LR, seed),))
                 for seed, split in zip(SEEDS, splits, strict=True)]
        steps = {}
        for name, pgd in (("natural (cohort)", None), ("PGD (cohort)", SPEC)):
            cohort = Cohort(lanes, device=device, pgd=pgd)
            x, y, weight = batch_of(cohort, bank)
            steps[name] = lambda c=cohort, x=x, y=y, w=weight: c.step(x, y, w)
        nets = [cohort.module(g, 0) for g in range(len(lanes))]
        optimisers = [torch.optim.SGD(net.parameters(), lr=LR) for net in nets]
        steps["PGD (naive loop)"] = lambda n=nets, o=optimisers, x=x, y=y: naive_step(n, o, x, y)
        for name, seconds in interleaved(device, steps, args.steps).items():
            totals[name] += seconds
    print(f"{'update':<20} {'ms':>8} {'× natural':>10} {'× PGD cohort':>13}")
    for name, seconds in totals.items():
        print(f"{name:<20} {seconds * 1e3:>8.2f} {seconds / totals['natural (cohort)']:>10.2f} "
              f"{seconds / totals['PGD (cohort)']:>13.2f}")


if __name__ == "__main__":
    main()
