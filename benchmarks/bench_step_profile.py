"""Where a training phase's time goes: the paper profile's capacity sweep of one protocol (165
models as one cohort, its own dtype, batch and matmul precision), a few epochs under the
PyTorch profiler.

Prints the share of the time spent in GEMM calls, the rate those calls achieve (the FLOPs
flops.py counts for these epochs over their time) and the phase's overall rate, each against
the GEMM peak of the phase's dtype and precision (a square product timed interleaved with the
epochs, so a slow minute cannot make the fractions look better), then the operators that take
the rest. A phase far below the peak with its GEMMs near it is held back by the
work between them (elementwise passes, gathers, metrics), not by the GEMMs. Outside the
profiler it times the same epochs with and without their validation and test passes
(interleaved), so the training step's own rate and the phase's are both stated.

    python benchmarks/bench_step_profile.py [--protocol corrected|reference] [--epochs 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from flops import (
    benchmark_inputs,
    capacity_sweep,
    interleaved,
    machine,
    split_cache,
    square_gemm,
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

    def train(epochs: int, evaluate: bool = True) -> None:
        sweep.train(cohort, epochs, evaluate)

    train(1)  # first-epoch gathers and allocations, outside the profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        train(args.epochs)
        wall = time.perf_counter() - start
    flops = sum(train_flops(p.hidden, len(split_of(p).train_idx),
                            len(split_of(p).val_idx) + len(split_of(p).test_idx), args.epochs)
                for p in plans)
    step_flops = sum(train_flops(p.hidden, len(split_of(p).train_idx), 0, args.epochs)
                     for p in plans)
    # Without the profiler, interleaved: the phase as it runs, its training steps alone, and
    # the GEMM peak, so that the fractions do not depend on the minute the peak was taken in.
    square, square_flops = square_gemm(device, precision=hp.matmul_precision,
                                       dtype=hp.torch_dtype)
    times = interleaved(device, {"with evaluation": lambda: train(args.epochs),
                                 "steps alone": lambda: train(args.epochs, False),
                                 "GEMM peak": square},
                        {"with evaluation": 1, "steps alone": 1, "GEMM peak": 10})
    peak = square_flops / times["GEMM peak"] / 1e9
    ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    gemm = sum(e.self_cpu_time_total for e in ops if e.key in GEMMS) / 1e6
    print(machine(device))
    print(f"{args.protocol}: {len(plans)} models, {args.epochs} epochs, {hp.torch_dtype}, "
          f"matmul precision {hp.matmul_precision!r}, batch {hp.batch_size or 'full'}; "
          f"GEMM peak {peak:.0f} GFLOP/s (interleaved with the unprofiled epochs)")
    print(f"wall {wall:.2f} s; GEMM calls {gemm:.2f} s ({gemm / wall:.0%} of it)")
    print(f"phase {flops / wall / 1e9:.0f} GFLOP/s = {flops / wall / 1e9 / peak:.0%} of peak; "
          f"GEMM calls {flops / gemm / 1e9:.0f} GFLOP/s = {flops / gemm / 1e9 / peak:.0%}")
    print(f"unprofiled, interleaved with the peak: phase "
          f"{flops / times['with evaluation'] / 1e9 / peak:.0%} of it, training steps alone "
          f"{step_flops / times['steps alone'] / 1e9 / peak:.0%} "
          f"(evaluation {1 - times['steps alone'] / times['with evaluation']:.0%} of the phase)")
    print(f"{'operator (self time)':<36}{'calls':>8}{'s':>8}{'% wall':>8}")
    for event in [e for e in ops if e.key not in GEMMS][:10]:
        seconds = event.self_cpu_time_total / 1e6
        print(f"{event.key:<36}{event.count:>8}{seconds:>8.2f}{seconds / wall:>8.0%}")
    fractions = first_layer_gemm_fractions(cohort, hp.batch_size or CHUNK, square, square_flops)
    print("first layer's GEMMs at this shape, % of the peak interleaved with them: " + ", ".join(
        f"{name} {fraction:.0%}" for name, fraction in fractions.items()))


def first_layer_gemm_fractions(cohort: Cohort, rows: int, square: Callable[[], object],
                               square_flops: float) -> dict[str, float]:
    """The first layer's products for `rows` samples per lane, as fractions of the rate of
    `square` (the GEMM peak's product, of `square_flops`), all interleaved (min of 3): the
    forward product as the engine calls it (one batched `baddbmm` over the lanes), as
    a loop of one `addmm` per lane, and the forward with the weight gradient accumulated into
    w1 (the step's two large GEMMs, nothing between them): the rate no training phase at this
    shape can pass."""
    w, b = cohort.w1, cohort.b1
    x = torch.randn(w.shape[0], rows, w.shape[2], dtype=w.dtype, device=w.device)
    out = torch.empty(w.shape[0], rows, w.shape[1], dtype=w.dtype, device=w.device)
    grad = torch.zeros_like(w)

    def batched() -> None:
        torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2), out=out)

    def per_lane() -> None:
        for g in range(w.shape[0]):
            torch.addmm(b[g], x[g], w[g].T, out=out[g])

    def with_gradient() -> None:
        batched()
        grad.baddbmm_(out.transpose(1, 2), x)

    forward = 2.0 * x.numel() * w.shape[1]
    flops = {"forward batched": forward, "forward per lane": forward,
             "forward + weight gradient": 2 * forward}
    times = interleaved(w.device, {"forward batched": batched, "forward per lane": per_lane,
                                   "forward + weight gradient": with_gradient, "peak": square}, 10)
    return {name: flops[name] / times[name] / (square_flops / times["peak"]) for name in flops}


if __name__ == "__main__":
    main()
