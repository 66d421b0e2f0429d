"""Which backend trains deeper MLPs: one SGD step (batch 128) of the Novak-scale grid's
cohort layout — 24 lanes (splits) × 8 models (widths 8, 16, 32, 64, two learning rates) —
at depth 2 and 3, three ways:

- block-diagonal: lowcap's cohort, hidden-to-hidden layers as [G, H, H] block matrices;
- stacked: models of one width stacked with `torch.func.stack_module_state` and trained with
  `vmap(functional_call)` + autograd (one program per width);
- loop: one nn.Module and one torch.optim.SGD per model (the naive baseline).

Prints ms per step, achieved GFLOP/s against the float32 GEMM peak measured in the same run
(counting 4 · parameters FLOPs per sample and model, as benchmarks/flops.py does), and each
backend's time relative to the block-diagonal cohort.

    python benchmarks/bench_depth.py [--device cuda] [--steps 20]
"""

from __future__ import annotations

import argparse
import copy

import torch
import torch.nn.functional as F
from flops import benchmark_inputs, gemm_peak, interleaved, machine
from torch.func import functional_call, grad, stack_module_state, vmap

from lowcap.data import make_split
from lowcap.models import Cohort, Lane, ModelSpec
from lowcap.models.mlp import build_mlp, init_params

WIDTHS = (8, 16, 32, 64)
LRS = (0.05, 0.02)
BATCH = 128
LANES = 24


def _params(width: int, depth: int) -> int:
    return 784 * width + (depth - 1) * width * width + (depth + 1) * width + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    args, device, mnist, bank = benchmark_inputs(parser)
    split = make_split(mnist.train_labels, mnist.test_labels, (4, 9), 0)
    gen = torch.Generator().manual_seed(0)
    rows = torch.randint(0, len(split.train_idx), (LANES, BATCH), generator=gen)
    x = bank.gather(torch.from_numpy(split.train_idx)[rows])  # [G, B, 784]
    y = torch.from_numpy(split.train_y)[rows].to(device)
    weight = torch.ones_like(y)
    specs = tuple(ModelSpec(h, lr, 0) for h in WIDTHS for lr in LRS)
    peak = gemm_peak(device)
    print(machine(device))
    print(f"device {device}, float32 GEMM peak {peak:.0f} GFLOP/s, {LANES} lanes × "
          f"{len(specs)} models, batch {BATCH}")
    print(f"{'depth':>5} {'backend':<16} {'ms/step':>8} {'% peak':>7} {'× block':>8}")
    for depth in (2, 3):
        flops = 4 * BATCH * LANES * sum(_params(s.hidden, depth) for s in specs)
        cohort = Cohort([Lane(split, g, specs) for g in range(LANES)], device=device,
                        depth=depth)
        modules = {(g, s): build_mlp({k: v.float().to(device) for k, v in init_params(
            s.hidden, 0, depth=depth).items()}) for g in range(LANES) for s in specs}
        optimisers = {key: torch.optim.SGD(m.parameters(), lr=key[1].lr)
                      for key, m in modules.items()}

        def loop(modules=modules, optimisers=optimisers) -> None:
            for (g, spec), module in modules.items():
                optimisers[(g, spec)].zero_grad()
                F.binary_cross_entropy_with_logits(module(x[g]).squeeze(1), y[g]).backward()
                optimisers[(g, spec)].step()

        times = interleaved(
            device, {"block-diagonal": lambda c=cohort: c.step(x, y, weight),
                     "stacked (vmap)": _stacked_step(modules, x, y), "loop": loop},
            {"block-diagonal": args.steps, "stacked (vmap)": args.steps,
             "loop": max(3, args.steps // 5)})
        for name, seconds in times.items():
            print(f"{depth:>5} {name:<16} {seconds * 1e3:>8.2f} "
                  f"{100 * flops / seconds / 1e9 / peak:>6.1f}% "
                  f"{seconds / times['block-diagonal']:>8.2f}")


def _stacked_step(modules: dict, x: torch.Tensor, y: torch.Tensor):
    """One SGD step of every model, one vmap program per (width, lr): models of one shape
    stacked, each on its own lane's batch."""
    groups: dict[tuple, list] = {}
    for (g, spec), module in modules.items():
        groups.setdefault((spec.hidden, spec.lr), []).append((g, module))
    programs = []
    for (_, lr), members in groups.items():
        params, buffers = stack_module_state([m for _, m in members])
        base = copy.deepcopy(members[0][1]).to("meta")
        lanes = torch.tensor([g for g, _ in members], device=x.device)

        def loss(p, b, xs, ys, base=base):
            return F.binary_cross_entropy_with_logits(
                functional_call(base, (p, b), (xs,)).squeeze(-1), ys)

        programs.append((vmap(grad(loss)), params, buffers, lanes, lr))

    def step() -> None:
        for gradient, params, buffers, lanes, lr in programs:
            grads = gradient(params, buffers, x[lanes], y[lanes])
            with torch.no_grad():
                for name, value in params.items():
                    value.sub_(lr * grads[name])

    return step


if __name__ == "__main__":
    main()
