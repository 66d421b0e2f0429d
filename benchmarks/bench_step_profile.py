"""Where a training phase's time goes: the paper profile's capacity sweep of one protocol (165
models as one cohort, its own dtype, batch and matmul precision), a few epochs under the
PyTorch profiler.

Prints the share of the time spent in GEMM calls, the rate those calls achieve (the FLOPs
flops.py counts for these epochs over their time) and the phase's overall rate, each against
the GEMM peak of the phase's dtype and precision measured in the same run, then the operators
that take the rest. A phase far below the peak with its GEMMs near it is held back by the
work between them (elementwise passes, gathers, metrics), not by the GEMMs.

    python benchmarks/bench_step_profile.py [--protocol corrected|reference] [--epochs 3]
"""

from __future__ import annotations

import argparse
import time

import torch
from flops import (
    benchmark_inputs,
    capacity_sweep,
    gemm_peak,
    interleaved,
    machine,
    split_cache,
    train_flops,
)
from torch.profiler import ProfilerActivity, profile

from lowcap.models import Cohort
from lowcap.models.step import CHUNK

GEMMS = ("aten::baddbmm", "aten::baddbmm_", "aten::bmm", "aten::mm", "aten::addmm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="corrected", choices=("corrected", "reference"))
    parser.add_argument("--epochs", type=int, default=3)
    args, device, mnist, _ = benchmark_inputs(parser)
    split_of = split_cache(mnist)
    sweep = capacity_sweep(mnist, args.protocol, split_of, device)
    plans, hp, cohort = sweep.plans, sweep.plans[0].hp, sweep.cohort()

    def train(epochs: int) -> None:
        sweep.train(cohort, epochs)

    train(1)  # first-epoch gathers and allocations, outside the profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        train(args.epochs)
        wall = time.perf_counter() - start
    flops = sum(train_flops(p.hidden, len(split_of(p).train_idx),
                            len(split_of(p).val_idx) + len(split_of(p).test_idx), args.epochs)
                for p in plans)
    peak = gemm_peak(device, precision=hp.matmul_precision, dtype=hp.torch_dtype)
    ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    gemm = sum(e.self_cpu_time_total for e in ops if e.key in GEMMS) / 1e6
    print(machine(device))
    print(f"{args.protocol}: {len(plans)} models, {args.epochs} epochs, {hp.torch_dtype}, "
          f"matmul precision {hp.matmul_precision!r}, batch {hp.batch_size or 'full'}; "
          f"GEMM peak {peak:.0f} GFLOP/s (same run)")
    print(f"wall {wall:.2f} s; GEMM calls {gemm:.2f} s ({gemm / wall:.0%} of it)")
    print(f"phase {flops / wall / 1e9:.0f} GFLOP/s = {flops / wall / 1e9 / peak:.0%} of peak; "
          f"GEMM calls {flops / gemm / 1e9:.0f} GFLOP/s = {flops / gemm / 1e9 / peak:.0%}")
    print(f"{'operator (self time)':<36}{'calls':>8}{'s':>8}{'% wall':>8}")
    for event in [e for e in ops if e.key not in GEMMS][:10]:
        seconds = event.self_cpu_time_total / 1e6
        print(f"{event.key:<36}{event.count:>8}{seconds:>8.2f}{seconds / wall:>8.0%}")
    rates = forward_gemm_rates(cohort, hp.batch_size or CHUNK)
    print("first layer's forward GEMM at this shape: " + ", ".join(
        f"{name} {rate:.0f} GFLOP/s" for name, rate in rates.items()))


def forward_gemm_rates(cohort: Cohort, rows: int) -> dict[str, float]:
    """GFLOP/s of the first layer's forward product for `rows` samples per lane: as the engine
    calls it (one batched `baddbmm` over the lanes) and as a loop of one `addmm` per lane,
    interleaved (min of 3)."""
    w, b = cohort.w1, cohort.b1
    x = torch.randn(w.shape[0], rows, w.shape[2], dtype=w.dtype, device=w.device)
    out = torch.empty(w.shape[0], rows, w.shape[1], dtype=w.dtype, device=w.device)

    def batched() -> None:
        torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2), out=out)

    def per_lane() -> None:
        for g in range(w.shape[0]):
            torch.addmm(b[g], x[g], w[g].T, out=out[g])

    times = interleaved(w.device, {"batched": batched, "loop per lane": per_lane}, 10)
    return {name: 2 * x.numel() * w.shape[1] / t / 1e9 for name, t in times.items()}


if __name__ == "__main__":
    main()
