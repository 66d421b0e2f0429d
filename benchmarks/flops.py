"""Arithmetic of training and evaluating 784 → h → 1 MLPs, and the machine's GEMM peak.

Counted FLOPs are those the training needs: per training sample 2·P for the forward pass and 2·P
for the weight gradients (no input gradient is needed), per evaluated sample 2·P, with
P = 784·h + 2·h + 1 parameters. Elementwise work is left out: it is what the GEMM-bound
engine is supposed to keep small.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from lowcap.data import ImageBank, load_mnist
from lowcap.data.mnist import MNIST
from lowcap.data.tasks import TaskSplit
from lowcap.machine import cpu_facts
from lowcap.models import Cohort
from lowcap.models.cohort import Lane
from lowcap.run.plan import ModelPlan, grid
from lowcap.run.runner import layout
from lowcap.run.split import plan_split
from lowcap.studies.registry import load_config
from lowcap.training import matmul_precision, train_cohort
from lowcap.training.malloc import keep_freed_memory

PAPER = Path(__file__).resolve().parents[1] / "configs" / "paper.yaml"


def params(hidden: int) -> int:
    return 784 * hidden + 2 * hidden + 1


def train_flops(hidden: int, n_train: int, n_eval: int, epochs: int) -> float:
    """FLOPs of `epochs` epochs on n_train samples with n_eval samples evaluated each epoch."""
    return float(params(hidden)) * (4 * n_train + 2 * n_eval) * epochs


def benchmark_inputs(parser: argparse.ArgumentParser
                     ) -> tuple[argparse.Namespace, torch.device, MNIST, ImageBank]:
    """A benchmark's start: its options, with `--device` added, parsed; freed memory kept
    (as `lowcap` keeps it); MNIST and its image bank on the device."""
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    keep_freed_memory()
    device = torch.device(args.device)
    mnist = load_mnist(progress=False).mnist
    return args, device, mnist, ImageBank.from_mnist(mnist, device=device)


def split_cache(mnist: MNIST) -> Callable[[ModelPlan], TaskSplit]:
    """A plan's split, made once per lane key (every plan of a lane shares it)."""
    splits: dict[tuple, TaskSplit] = {}

    def split_of(plan: ModelPlan) -> TaskSplit:
        key = plan.lane_key()
        if key not in splits:
            splits[key] = plan_split(mnist, plan)
        return splits[key]

    return split_of


@dataclass(frozen=True)
class CapacitySweep:
    """The paper profile's capacity sweep of one protocol (165 models, a lane per pair and
    seed) in the protocol's own dtype, batch and matmul precision, as `lowcap` trains it."""

    plans: list[ModelPlan]
    lanes: list[Lane]
    bank: ImageBank

    def cohort(self) -> Cohort:
        """Every model of the sweep at its initialisation, as one cohort."""
        hp = self.plans[0].hp
        return Cohort(self.lanes, activation=hp.activation,  # type: ignore[arg-type]
                      device=self.bank.device, dtype=hp.torch_dtype,
                      input_dim=self.bank.input_dim, depth=hp.depth)

    def train(self, cohort: Cohort, epochs: int, evaluate: bool = True) -> None:
        """`epochs` epochs of the protocol's training and evaluation (`evaluate` False: the
        training steps alone, no validation or test pass)."""
        hp = self.plans[0].hp
        train_cohort(cohort, self.bank, epochs, hp.batch_size, precision=hp.matmul_precision,
                     budget=hp.budget_batch_size, evaluate_every=hp.evaluate_every,
                     evaluate_parts=("val", "test") if evaluate else ())


def capacity_plans(protocol: str, epochs: int | None = None) -> list[ModelPlan]:
    """The paper profile's capacity sweep under `protocol` (its epochs, or `epochs`)."""
    cfg = load_config(PAPER)
    assert cfg.capacity is not None
    if epochs is not None:
        cfg = cfg.model_copy(update={"epochs": epochs})
    return grid(cfg, cfg.protocol(protocol), cfg.capacity.pairs, cfg.widths, [cfg.lr])


def capacity_sweep(mnist: MNIST, protocol: str, split_of: Callable[[ModelPlan], TaskSplit],
                   device: str | torch.device = "cpu") -> CapacitySweep:
    """The paper profile's capacity sweep under `protocol`, its inputs on `device`."""
    plans = capacity_plans(protocol)
    bank = ImageBank.from_mnist(mnist, device=device, dtype=plans[0].hp.torch_dtype)
    return CapacitySweep(plans, layout(plans, split_of)[0], bank)


def machine(device: torch.device) -> str:
    """One line naming where a benchmark ran: the CPU model, its logical CPUs and ISA (AVX-512,
    AMX), torch and its thread count, and the GPU where `device` is one. Printed by every
    benchmark beside the GEMM peaks it measures, since its percentages are of those."""
    facts = cpu_facts()
    isa = ", ".join([name for name in ("avx512", "amx") if facts[name]] or ["no AVX-512"])
    gpu = (f"; GPU {torch.cuda.get_device_name(device)}" if device.type == "cuda" else "")
    return (f"machine: {facts['cpu']} ({facts['logical_cpus']} logical CPUs; {isa}), torch "
            f"{torch.__version__} on {torch.get_num_threads()} threads{gpu}")


def square_gemm(device: torch.device, n: int = 2048, precision: str = "highest",
                dtype: torch.dtype = torch.float32) -> tuple[Callable[[], object], float]:
    """One n × n by n × n product in `dtype` at a float32 matmul precision ('medium': bf16
    products where the hardware has them; float64 ignores it) as a call, and its FLOPs: the
    GEMM peak's workload, to time alone or interleaved with what it is the peak of."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)

    def call() -> None:
        with matmul_precision(precision):
            a @ b

    return call, 2.0 * n**3


def gemm_peak(device: torch.device, n: int = 2048, repeats: int = 10,
              precision: str = "highest", dtype: torch.dtype = torch.float32) -> float:
    """Measured matmul GFLOP/s on this device (`square_gemm`), the fastest of three rounds of
    `repeats` calls: a round slowed by the machine's load would understate the peak and
    overstate every fraction of it."""
    call, flops = square_gemm(device, n, precision, dtype)
    return flops / interleaved(device, {"gemm": call}, repeats)["gemm"] / 1e9


def per_step(device: torch.device, step: Callable[[], object], repeats: int) -> float:
    """Seconds per call of `step`, after two warm-up calls."""
    return interleaved(device, {"step": step}, repeats, rounds=1)["step"]


def interleaved(device: torch.device, steps: dict[str, Callable[[], object]],
                repeats: int | dict[str, int], rounds: int = 3) -> dict[str, float]:
    """Seconds per call of each of `steps` (an engine and its baselines): after two warm-up
    calls of each, `rounds` rounds that time every step in turn (`repeats` calls, one number
    or one per step), the order rotated each round; the minimum over the rounds. Alternating
    keeps a noisy machine's drift (load, clock) from favouring whichever ran first, and the
    minimum is the least disturbed round."""
    count = repeats if isinstance(repeats, dict) else dict.fromkeys(steps, repeats)
    for step in steps.values():
        step()
        step()
    sync(device)
    names = list(steps)
    best = dict.fromkeys(names, math.inf)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            for _ in range(count[name]):
                steps[name]()
            sync(device)
            best[name] = min(best[name], (time.perf_counter() - start) / count[name])
    return best


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so wall-clock times are real."""
    if device.type == "cuda":
        torch.cuda.synchronize()
