"""One training step and one epoch's evaluation of the paper's capacity sweep, four ways.

Workload: the 165-model capacity sweep (5 pairs × 3 seeds × 11 widths, batch 128), one SGD
step of every model on its lane's batch, and the validation + test metrics of every model.

- cohort, eager: `Cohort.step` launched from Python (the CPU path);
- cohort, CUDA graph: the same step captured once and replayed (CUDA only);
- torch.func ensembles: what a PyTorch user would write, one `vmap(grad(loss))` per width over
  that width's 15 models (`stack_module_state` + `functional_call`), then the SGD update;
- per-model loop: 165 `nn.Module`s, each with autograd and `torch.optim.SGD`.

Evaluation: `cohort_metrics` (one program for all lanes, one host copy) against the previous
implementation, a per-lane loop over `classification_metrics` copying each lane's metrics to
the host; the forward pass is timed apart.

Prints µs per step, achieved GFLOP/s against the float32 GEMM peak measured in the same run,
and the ratios to the baselines.

    python benchmarks/bench_gpu.py [--device cuda] [--steps 50]
"""

from __future__ import annotations

import argparse
import copy

import torch
import torch.nn.functional as F
from flops import benchmark_inputs, gemm_peak, interleaved, machine, params, per_step
from torch.func import functional_call, grad, stack_module_state, vmap

from lowcap.data import PAPER_PAIRS, ImageBank, make_split
from lowcap.models import Cohort, Lane, ModelSpec, build_mlp
from lowcap.run.config import PAPER_WIDTHS
from lowcap.training import EvalSet, classification_metrics, cohort_metrics
from lowcap.training.graphs import CapturedStep

BATCH, LR, SEEDS = 128, 0.03, (0, 1, 2)


def batch_of(cohort: Cohort, bank: ImageBank) -> tuple[torch.Tensor, ...]:
    """Each lane's first 128 training images: inputs [G, 128, 784], labels, weights."""
    rows = torch.stack([torch.from_numpy(bank.rows(lane.split, "train")[:BATCH])
                        for lane in cohort.lanes])
    labels = torch.stack([torch.from_numpy(lane.split.train_y[:BATCH]) for lane in cohort.lanes])
    x = bank.gather(rows)
    return x, labels.to(x), torch.ones_like(labels, dtype=x.dtype, device=x.device)


def vmap_steps(cohort: Cohort, x: torch.Tensor, y: torch.Tensor):
    """One torch.func ensemble per width (its 15 models), each updated by vmap(grad)."""
    groups = []
    for width in PAPER_WIDTHS:
        members = [(g, i) for g, i, spec in cohort.models() if spec.hidden == width]
        modules = [cohort.module(g, i) for g, i in members]
        weights, buffers = stack_module_state(modules)
        lanes = torch.tensor([g for g, _ in members], device=x.device)
        groups.append((weights, buffers, lanes))
    base = copy.deepcopy(modules[0]).to("meta")

    def loss(weights, buffers, xb, yb):
        logits = functional_call(base, (weights, buffers), (xb,)).squeeze(-1)
        return F.binary_cross_entropy_with_logits(logits, yb)

    gradient = vmap(grad(loss), in_dims=(0, 0, 0, 0))

    def step():
        for weights, buffers, lanes in groups:
            grads = gradient(weights, buffers, x[lanes], y[lanes])
            with torch.no_grad():
                for name, value in weights.items():
                    value.sub_(LR * grads[name])
    return step


def loop_step(cohort: Cohort, x: torch.Tensor, y: torch.Tensor):
    """165 nn.Modules, each its own autograd step with torch.optim.SGD."""
    models = [(g, build_mlp(cohort.model_params(g, i))) for g, i, _ in cohort.models()]
    optimisers = [torch.optim.SGD(model.parameters(), lr=LR) for _, model in models]

    def step():
        for (g, model), optimiser in zip(models, optimisers, strict=True):
            optimiser.zero_grad()
            F.binary_cross_entropy_with_logits(model(x[g]).squeeze(-1), y[g]).backward()
            optimiser.step()
    return step


def per_lane_metrics(cohort: Cohort, logits: torch.Tensor, inputs: EvalSet) -> None:
    """The previous evaluation: a loop over lanes, each lane's metrics copied to the host."""
    counts = inputs.labels.real.sum(1).tolist()
    for g, (lane, count) in enumerate(zip(cohort.lanes, counts, strict=True)):
        values = classification_metrics(logits[g, :count, : len(lane.models)].T,
                                         inputs.labels.y[g, :count])
        for value in values.values():
            value.double().cpu()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--loop-steps", type=int, default=3)
    args, device, mnist, bank = benchmark_inputs(parser)
    lanes = [Lane(make_split(mnist.train_labels, mnist.test_labels, pair, seed), seed,
                  tuple(ModelSpec(h, LR, seed) for h in PAPER_WIDTHS))
             for pair in PAPER_PAIRS for seed in SEEDS]
    cohort = Cohort(lanes, device=device)
    x, y, weight = batch_of(cohort, bank)
    peak = gemm_peak(device)
    print(machine(device))
    step_flops = 4 * BATCH * len(SEEDS) * len(PAPER_PAIRS) * sum(params(h) for h in PAPER_WIDTHS)

    steps = {"cohort, eager": lambda: cohort.step(x, y, weight)}
    repeats = {"cohort, eager": args.steps}
    if device.type == "cuda":
        captured = CapturedStep(cohort, lambda *a: cohort.step(*a), x, y, weight)
        steps["cohort, CUDA graph"] = lambda: captured(x, y, weight)
        repeats["cohort, CUDA graph"] = args.steps
    steps["torch.func vmap per width"] = vmap_steps(cohort, x, y)
    repeats["torch.func vmap per width"] = max(3, args.steps // 5)
    steps["per-model loop (165 nn.Modules)"] = loop_step(cohort, x, y)
    repeats["per-model loop (165 nn.Modules)"] = args.loop_steps
    timings = interleaved(device, steps, repeats)

    print(f"device {device}, threads {torch.get_num_threads()}, 165 models, batch {BATCH}, "
          f"float32 GEMM peak {peak:.0f} GFLOP/s")
    print(f"{'one SGD step of every model':<36}{'µs':>10}{'GFLOP/s':>10}{'% peak':>8}"
          f"{'× cohort':>10}")
    fastest = min(timings.values())
    for name, seconds in timings.items():
        rate = step_flops / seconds / 1e9
        print(f"{name:<36}{seconds * 1e6:>10.0f}{rate:>10.1f}{100 * rate / peak:>8.1f}"
              f"{seconds / fastest:>10.1f}")

    sets = [EvalSet.of(cohort, bank, part) for part in ("val", "test")]
    with torch.no_grad():
        forward = per_step(device, lambda: [cohort.logits(s.x) for s in sets], 3)
        logits = [cohort.logits(s.x) for s in sets]
        batched = per_step(device, lambda: [
            torch.stack(list(cohort_metrics(lg, s.labels).values())).cpu()
            for lg, s in zip(logits, sets, strict=True)], 5)
        looped = per_step(device, lambda: [per_lane_metrics(cohort, lg, s)
                                           for lg, s in zip(logits, sets, strict=True)], 5)
    print(f"\none epoch's evaluation (val + test, {sum(s.x.shape[1] for s in sets)} images "
          f"per lane, 15 lanes), ms")
    print(f"{'forward pass (both parts)':<36}{forward * 1e3:>10.1f}")
    print(f"{'metrics, batched (cohort_metrics)':<36}{batched * 1e3:>10.1f}")
    print(f"{'metrics, per-lane loop (before)':<36}{looped * 1e3:>10.1f}")
    print(f"metrics speed-up {looped / batched:.1f}x; whole evaluation "
          f"{(forward + looped) / (forward + batched):.2f}x")


if __name__ == "__main__":
    main()
