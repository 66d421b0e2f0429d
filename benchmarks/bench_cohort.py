"""Cohort engine vs a naive per-model PyTorch loop, same data, same run.

The workload is the paper's capacity sweep of one (pair, seed): 11 widths, mini-batch SGD (128),
with per-epoch validation and test metrics in both. Prints a table: model-epochs per second,
achieved GFLOP/s (training FLOPs ≈ 6 × parameters per sample) against the machine's measured
float32 GEMM peak, and the speed-up.

    python benchmarks/bench_cohort.py [--epochs 3] [--naive-epochs 1] [--device cpu]
                                      [--full-sweep]

`--full-sweep` adds a row for the paper's whole capacity sweep (5 pairs × 3 seeds × 11 widths =
165 models) as one cohort, for one epoch.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from lowcap.data import ImageBank, load_mnist, make_split
from lowcap.experiments.config import PAPER_WIDTHS
from lowcap.models import Cohort, Lane, ModelSpec, build_mlp, init_params
from lowcap.training import classification_metrics, epoch_order, train_cohort


def gemm_peak(device: torch.device, n: int = 2048, repeats: int = 10) -> float:
    """Measured float32 matmul GFLOP/s on this device."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_flops(n_samples: int, widths, epochs: int) -> float:
    return sum(6 * (784 * h + 2 * h + 1) for h in widths) * n_samples * epochs


def naive_loop(bank, split, widths, epochs, batch_size):
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


def full_sweep_row(mnist, bank, widths, peak: float) -> tuple[str, float, float, float]:
    """The 165-model capacity sweep as one cohort, one epoch."""
    from lowcap.data import PAPER_PAIRS

    lanes = []
    samples = 0
    for pair in PAPER_PAIRS:
        for seed in (0, 1, 2):
            split = make_split(mnist.train_labels, mnist.test_labels, pair, seed)
            samples += len(split.train_idx)
            lanes.append(Lane(split, seed, tuple(ModelSpec(h, 0.03, seed) for h in widths)))
    cohort = Cohort(lanes, device=bank.device)
    _sync(bank.device)
    start = time.perf_counter()
    train_cohort(cohort, bank, 1, 128)
    _sync(bank.device)
    seconds = time.perf_counter() - start
    gflops = train_flops(samples, widths, 1) / seconds / 1e9
    return ("cohort, 165 models", len(lanes) * len(widths) / seconds, gflops, 100 * gflops / peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--naive-epochs", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--full-sweep", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    mnist = load_mnist(progress=False).mnist
    bank = ImageBank.from_mnist(mnist, device=device)
    split = make_split(mnist.train_labels, mnist.test_labels, (4, 9), 0)
    n = len(split.train_idx)
    widths = PAPER_WIDTHS
    peak = gemm_peak(device)

    cohort = Cohort([Lane(split, 0, tuple(ModelSpec(h, 0.03, 0) for h in widths))],
                    device=device)
    _sync(device)
    start = time.perf_counter()
    train_cohort(cohort, bank, args.epochs, 128)
    _sync(device)
    t_cohort = time.perf_counter() - start

    _sync(device)
    start = time.perf_counter()
    naive_loop(bank, split, widths, args.naive_epochs, 128)
    _sync(device)
    t_naive = time.perf_counter() - start

    rows = []
    for name, seconds, epochs in (("cohort engine", t_cohort, args.epochs),
                                  ("naive per-model loop", t_naive, args.naive_epochs)):
        gflops = train_flops(n, widths, epochs) / seconds / 1e9
        rows.append((name, len(widths) * epochs / seconds, gflops, 100 * gflops / peak))
    if args.full_sweep:
        rows.append(full_sweep_row(mnist, bank, widths, peak))
    print(f"device {device}, threads {torch.get_num_threads()}, pair 4-9, {n} training images, "
          f"{len(widths)} widths, batch 128, GEMM peak {peak:.0f} GFLOP/s")
    print(f"{'engine':<22}{'model-epochs/s':>16}{'GFLOP/s':>10}{'% peak':>8}")
    for name, rate, gflops, pct in rows:
        print(f"{name:<22}{rate:>16.2f}{gflops:>10.1f}{pct:>8.1f}")
    print(f"speed-up (cohort / naive): {rows[0][1] / rows[1][1]:.1f}x")


if __name__ == "__main__":
    main()
