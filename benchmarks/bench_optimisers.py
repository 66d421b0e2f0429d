"""What per-model optimisers cost: one training step of the paper's 165-model capacity cohort
(5 pairs × 3 seeds × 11 widths, batch 128) with every model on plain SGD (the fused path: the
learning rate folded into the first layer's gradient GEMM), with every model on Adam, and with
the three optimisers mixed (the general path: raw gradients, then each model's own update).

Prints ms per step, achieved GFLOP/s against the float32 GEMM peak measured in the same run,
and each path's cost relative to the fused one.

    python benchmarks/bench_optimisers.py [--device cuda] [--steps 30]
"""

from __future__ import annotations

import argparse

from bench_gpu import BATCH, LR, SEEDS, batch_of
from flops import benchmark_inputs, gemm_peak, interleaved, machine, params

from lowcap.data import PAPER_PAIRS, make_split
from lowcap.models import Cohort, Lane, ModelSpec
from lowcap.models.optimisers import KINDS, OptimiserSpec
from lowcap.run.config import PAPER_WIDTHS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    args, device, mnist, bank = benchmark_inputs(parser)
    splits = {(pair, seed): make_split(mnist.train_labels, mnist.test_labels, pair, seed)
              for pair in PAPER_PAIRS for seed in SEEDS}

    def cohort(optimiser_of) -> Cohort:
        return Cohort([Lane(split, seed, tuple(
            ModelSpec(h, LR, seed, optimiser=optimiser_of(i)) for i, h in enumerate(PAPER_WIDTHS)))
            for (_, seed), split in splits.items()], device=device)

    variants = {"plain SGD (fused)": cohort(lambda i: OptimiserSpec()),
                "Adam, every model": cohort(lambda i: OptimiserSpec("adam")),
                "SGD / momentum / Adam mixed": cohort(
                    lambda i: OptimiserSpec(KINDS[i % 3], weight_decay=1e-4))}
    peak = gemm_peak(device)
    print(machine(device))
    flops = 4 * BATCH * len(splits) * sum(params(h) for h in PAPER_WIDTHS)
    print(f"device {device}, float32 GEMM peak {peak:.0f} GFLOP/s, 165 models, batch {BATCH}")
    print(f"{'variant':<30} {'ms/step':>8} {'% peak':>7} {'× fused':>8}")
    steps = {}
    for name, c in variants.items():
        x, y, weight = batch_of(c, bank)
        steps[name] = lambda c=c, x=x, y=y, w=weight: c.step(x, y, w)
    times = interleaved(device, steps, args.steps)
    fused = times["plain SGD (fused)"]
    for name, seconds in times.items():
        print(f"{name:<30} {seconds * 1e3:>8.2f} {100 * flops / seconds / 1e9 / peak:>6.1f}% "
              f"{seconds / fused:>8.2f}")


if __name__ == "__main__":
    main()
