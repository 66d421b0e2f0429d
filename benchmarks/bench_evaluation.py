"""What evaluating every epoch costs: the paper profile's sensitivity variants (90 models in
their cohorts) trained a few epochs with validation and test after each epoch, and after the
last alone, alternately (`flops.interleaved`, fastest of three rounds).

The difference is the cost of the evaluations skipped; spread over the epochs, it is the share
of each epoch that a study reading only its final models saves (`evaluate_every`).

    python benchmarks/bench_evaluation.py [--epochs 2]
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from flops import PAPER, benchmark_inputs, gemm_peak, interleaved, machine, split_cache

from lowcap.models import Cohort
from lowcap.run.plan import ModelPlan
from lowcap.run.runner import layout
from lowcap.studies.registry import load_config
from lowcap.studies.sensitivity.compute import population
from lowcap.training import train_cohort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    args, device, mnist, bank = benchmark_inputs(parser)
    cfg = load_config(PAPER)
    assert cfg.sensitivity is not None
    variants = [p for variant, p in population(cfg, cfg.sensitivity) if variant != "base"]
    groups: dict[tuple, list[ModelPlan]] = defaultdict(list)
    for plan in variants:
        groups[plan.cohort_key()].append(plan)
    split_of = split_cache(mnist)
    cohorts = []
    for plans in groups.values():
        lanes, _ = layout(plans, split_of)
        hp = plans[0].hp
        cohorts.append((Cohort(lanes, activation=hp.activation,  # type: ignore[arg-type]
                               device=device, input_dim=bank.input_dim), hp))

    def train(every: int):
        def run() -> None:
            for cohort, hp in cohorts:
                train_cohort(cohort, bank, args.epochs, hp.batch_size,
                             precision=hp.matmul_precision, budget=hp.budget_batch_size,
                             evaluate_every=every)
        return run

    peak = gemm_peak(device)
    times = interleaved(device, {"each": train(1), "last": train(args.epochs)}, 1)
    evaluation = (times["each"] - times["last"]) / (args.epochs - 1)
    epoch = times["last"] / args.epochs - evaluation / args.epochs
    print(machine(device))
    print(f"float32 GEMM peak {peak:.0f} GFLOP/s (same run)")
    print(f"{len(variants)} models in {len(cohorts)} cohorts, {args.epochs} epochs: "
          f"{times['each']:.2f} s evaluating each epoch, {times['last']:.2f} s the last alone")
    print(f"one evaluation (validation + test) {evaluation:.3f} s, one epoch's training "
          f"{epoch:.3f} s: evaluating every epoch adds {evaluation / epoch:.0%} to training")


if __name__ == "__main__":
    main()
