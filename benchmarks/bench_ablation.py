"""The protocol ablation's training, cohort by cohort, against training it cell by cell.

lowcap trains every cell of the design (and the anchors) in cohorts keyed by what a tensor
program must share (epochs, batch size, update budget, activation, precision, float type), so
cells that differ only in init or class balance train together. The baseline trains each cell
as its own cohort, as a user looping over the 16 protocols would. Each engine trains
`--epochs` epochs (validation and test evaluated after each, as in a run); seconds are
projected to the config's epochs. The two are timed interleaved (`flops.interleaved`: two
warm-up calls each, then three rounds in rotated order, the fastest round kept), and each
cohort's row is its fastest time over the engine's calls. FLOPs are counted as in flops.py,
and the GEMM peak is measured in the same run.

    python benchmarks/bench_ablation.py [--config configs/ablation.yaml] [--epochs 2]
"""

from __future__ import annotations

import argparse
import math
import time
from collections import defaultdict
from pathlib import Path

import torch
from flops import gemm_peak, interleaved, machine, params, split_cache

from lowcap.data.bank import ImageBank
from lowcap.data.loading import load_mnist
from lowcap.models.cohort import Cohort
from lowcap.run.plan import ModelPlan
from lowcap.run.runner import layout
from lowcap.studies.ablation.compute import design
from lowcap.studies.capacity.report import plans as capacity_plans
from lowcap.studies.registry import load_config
from lowcap.training import train_cohort, updates_per_epoch


def _flops(plans: list[ModelPlan], split_of) -> float:
    """Training and evaluation FLOPs of one epoch of `plans` (a pass's short last batch
    counted as a full one)."""
    total = 0.0
    for plan in plans:
        split = split_of(plan)
        n = len(split.train_idx)
        updates = updates_per_epoch(n, plan.hp.batch_size, plan.hp.budget_batch_size)
        seen = updates * min(plan.hp.batch_size or n, n)
        total += params(plan.hidden) * (4 * seen + 2 * (len(split.val_idx) + len(split.test_idx)))
    return total


def _timed(groups: list[list[ModelPlan]], bank: ImageBank, split_of, epochs: int) -> float:
    """Seconds to train every group as one cohort for `epochs` epochs."""
    started = time.perf_counter()
    for plans in groups:
        lanes, _ = layout(plans, split_of)
        hp = plans[0].hp
        data = bank.to(hp.torch_dtype)
        cohort = Cohort(lanes, activation=hp.activation, dtype=data.images.dtype)
        train_cohort(cohort, data, epochs, hp.batch_size, precision=hp.matmul_precision,
                     budget=hp.budget_batch_size)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=Path("configs/ablation.yaml"))
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    cfg = load_config(args.config)
    mnist = load_mnist(progress=False).mnist
    bank = ImageBank.from_mnist(mnist)
    split_of = split_cache(mnist)

    cells = {cell.name: capacity_plans(cell.cfg, cell.protocol) for cell in design(cfg)}
    unique = {p.model_id: p for plans in cells.values() for p in plans}
    cohorts: dict[tuple, list[ModelPlan]] = defaultdict(list)
    for plan in unique.values():
        cohorts[plan.cohort_key()].append(plan)
    device = torch.device("cpu")
    peaks = {name: gemm_peak(device, dtype=getattr(torch, name))
             for name in ("float32", "float64")}
    print(machine(device))
    scale = cfg.epochs / args.epochs
    print(f"{len(cells)} cells and anchors, {len(unique)} distinct models; GEMM peak "
          f"{peaks['float32']:.0f} GFLOP/s float32, {peaks['float64']:.0f} float64; "
          f"{args.epochs} epochs timed, projected to {cfg.epochs}\n")
    groups = list(cohorts.values())
    fastest = [math.inf] * len(groups)  # each cohort's best time over the engine's calls

    def merged() -> None:
        for i, plans in enumerate(groups):
            fastest[i] = min(fastest[i], _timed([plans], bank, split_of, args.epochs))

    best = interleaved(device, {"lowcap": merged, "per cell": lambda: _timed(
        list(cells.values()), bank, split_of, args.epochs)}, repeats=1)
    print("| cohort (batch, budget, dtype) | models | s (projected) | GFLOP/s "
          "| % of its dtype's peak |")
    print("|---|---|---|---|---|")
    for key, plans, seconds in zip(cohorts, groups, fastest, strict=True):
        rate = _flops(plans, split_of) * args.epochs / seconds / 1e9
        budget = {"own": "own", None: "full"}.get(key[5], key[5])
        print(f"| {key[1] or 'full'}, {budget}, {key[4]} | {len(plans)} | "
              f"{seconds * scale:.0f} | {rate:.0f} | {100 * rate / peaks[key[4]]:.0f} |")
    every = sum(_flops(plans, split_of) for plans in groups) * args.epochs
    print(f"\nlowcap (cells merged into {len(groups)} cohorts): {best['lowcap'] * scale:.0f} s "
          f"projected, {every / best['lowcap'] / 1e9:.0f} GFLOP/s")
    print(f"baseline (one cohort per cell, {len(cells)} cohorts; shared models trained again): "
          f"{best['per cell'] * scale:.0f} s projected")
    print(f"speed-up: {best['per cell'] / best['lowcap']:.2f}x (fastest of 3 interleaved rounds "
          f"each)")


if __name__ == "__main__":
    main()
