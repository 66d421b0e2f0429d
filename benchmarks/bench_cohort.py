"""The cohort engine vs per-model baselines, same data, same process.

Workload: the paper's capacity sweep of one (pair, seed), pair (4, 9), 11 widths (2 … 64), with
validation and test metrics after every epoch in every engine.

- mini-batch SGD (batch 128, the `corrected` protocol): cohort engine vs the idiomatic PyTorch
  loop (one nn.Module at a time, torch.optim.SGD, autograd);
- full-batch GD (the `reference` protocol, as the paper's code trains): cohort engine vs the
  paper's approach, per-model NumPy full-batch training, reimplemented minimally below.

Each engine and its baseline are timed alternately (`flops.interleaved`: two warm-up calls,
then the fastest of three rounds), as are the two whole-sweep cohorts. Prints model-epochs per
second, achieved GFLOP/s (see flops.py for what is counted) and the share of the float32 GEMM
peak measured in the same run, then the speed-ups.

    python benchmarks/bench_cohort.py [--epochs 3] [--baseline-epochs 1] [--device cpu]
                                      [--full-sweep]

`--full-sweep` adds the paper's whole capacity sweep (5 pairs × 3 seeds × 11 widths = 165
models) as one cohort, one epoch per protocol.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from flops import benchmark_inputs, gemm_peak, interleaved, machine, train_flops

from lowcap.data import PAPER_PAIRS, make_split
from lowcap.models import Cohort, InitSpec, Lane, ModelSpec, build_mlp, init_params
from lowcap.run.config import PAPER_WIDTHS
from lowcap.training import classification_metrics, epoch_order, train_cohort

REFERENCE_INIT = InitSpec("normal", 0.1)


def naive_torch_loop(bank, split, widths, epochs, batch_size) -> None:
    """The idiomatic way: one model at a time, nn.Module + torch.optim.SGD + autograd."""
    x, y = bank.inputs(split, "train")
    evals = [bank.inputs(split, part) for part in ("val", "test")]
    for h in widths:
        model = build_mlp({k: v.float().to(bank.device) for k, v in init_params(h, 0).items()})
        opt = torch.optim.SGD(model.parameters(), lr=0.03)
        for epoch in range(epochs):
            for idx in epoch_order(len(y), 0, epoch, batch_size):
                opt.zero_grad()
                F.binary_cross_entropy_with_logits(model(x[idx]).squeeze(1), y[idx]).backward()
                opt.step()
            with torch.no_grad():
                for xe, ye in evals:
                    classification_metrics(model(xe).T, ye)


def numpy_full_batch(bank, split, widths, epochs) -> list[list[float]]:
    """The paper's approach: per model, NumPy full-batch gradient descent on the BCE loss;
    returns each model's last validation and test F1."""
    x, y = (t.cpu().numpy() for t in bank.inputs(split, "train"))
    evals = [tuple(t.cpu().numpy() for t in bank.inputs(split, part)) for part in ("val", "test")]
    scores = []
    for h in widths:
        p = {k: v.float().numpy().copy() for k, v in init_params(h, 0, REFERENCE_INIT).items()}
        w1, b1, w2, b2 = p["w1"], p["b1"], p["w2"].reshape(-1), p["b2"]
        for _ in range(epochs):
            z = x @ w1.T + b1
            a = np.maximum(z, 0)
            out = 1 / (1 + np.exp(-(a @ w2 + b2)))
            d_out = (out - y) / len(y)
            d_z = np.outer(d_out, w2) * (z > 0)
            w1 -= 0.03 * (d_z.T @ x)
            b1 -= 0.03 * d_z.sum(0)
            w2 -= 0.03 * (a.T @ d_out)
            b2 -= 0.03 * d_out.sum()
            f1 = []
            for xe, ye in evals:  # per-epoch F1, as the engines compute
                pred = (np.maximum(xe @ w1.T + b1, 0) @ w2 + b2) > 0
                tp = float((pred & (ye > 0.5)).sum())
                f1.append(2 * tp / max(1.0, float(pred.sum() + (ye > 0.5).sum())))
        scores.append(f1)
    return scores


def lanes_for(mnist, pairs, seeds, widths, reference: bool) -> list[Lane]:
    init = REFERENCE_INIT if reference else InitSpec()
    return [Lane(make_split(mnist.train_labels, mnist.test_labels, pair, seed, balance=reference),
                 seed, tuple(ModelSpec(h, 0.03, seed, init) for h in widths))
            for pair in pairs for seed in seeds]


def row(name: str, lanes: list[Lane], epochs: int, seconds: float, peak: float) -> tuple:
    flops = sum(train_flops(m.hidden, len(lane.split.train_idx),
                            len(lane.split.val_idx) + len(lane.split.test_idx), epochs)
                for lane in lanes for m in lane.models)
    models = sum(len(lane.models) for lane in lanes)
    gflops = flops / seconds / 1e9
    return name, models * epochs / seconds, gflops, 100 * gflops / peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--baseline-epochs", type=int, default=1)
    parser.add_argument("--full-sweep", action="store_true")
    args, device, mnist, bank = benchmark_inputs(parser)
    peak = gemm_peak(device)
    print(machine(device))
    rows = []
    for reference, batch in ((False, 128), (True, None)):
        lanes = lanes_for(mnist, [(4, 9)], [0], PAPER_WIDTHS, reference)
        split = lanes[0].split
        if reference:
            name, baseline = "NumPy per model, full batch", lambda split=split: numpy_full_batch(
                bank, split, PAPER_WIDTHS, args.baseline_epochs)
        else:
            name, baseline = "torch per model, batch 128", lambda split=split: naive_torch_loop(
                bank, split, PAPER_WIDTHS, args.baseline_epochs, 128)
        times = interleaved(device, {
            "cohort": lambda lanes=lanes, batch=batch: train_cohort(
                Cohort(lanes, device=device), bank, args.epochs, batch),
            "baseline": baseline}, 1)
        rows.append(row(f"cohort, {'full batch' if reference else 'batch 128'}", lanes,
                        args.epochs, times["cohort"], peak))
        rows.append(row(name, lanes, args.baseline_epochs, times["baseline"], peak))
    if args.full_sweep:
        sweeps = {batch: lanes_for(mnist, PAPER_PAIRS, (0, 1, 2), PAPER_WIDTHS, batch is None)
                  for batch in (128, None)}
        times = interleaved(device, {batch: lambda lanes=lanes, batch=batch: train_cohort(
            Cohort(lanes, device=device), bank, 1, batch) for batch, lanes in sweeps.items()}, 1)
        for batch, lanes in sweeps.items():
            rows.append(row(f"cohort 165, {'full batch' if batch is None else 'batch 128'}",
                            lanes, 1, times[batch], peak))
    print(f"device {device}, threads {torch.get_num_threads()}, pair 4-9, "
          f"{len(PAPER_WIDTHS)} widths, GEMM peak {peak:.0f} GFLOP/s")
    print(f"{'engine':<30}{'model-epochs/s':>16}{'GFLOP/s':>10}{'% peak':>8}")
    for name, rate, gflops, pct in rows:
        print(f"{name:<30}{rate:>16.2f}{gflops:>10.1f}{pct:>8.1f}")
    print(f"speed-up, batch 128 (cohort / torch per model): {rows[0][1] / rows[1][1]:.1f}x")
    print(f"speed-up, full batch (cohort / NumPy per model): {rows[2][1] / rows[3][1]:.1f}x")


if __name__ == "__main__":
    main()
