"""Two independent phases at once on a CPU: one after the other on every core, against side by
side on one core each, in two worker processes and in two threads of one process.

The phases are the paper profile's capacity sweeps of its two protocols (165 models each, one
cohort, each in its own dtype, batch and matmul precision), sized by their epochs to take about
as long. A phase spread over two threads runs below twice its one-thread speed (the GEMMs are
thin, and the work between them is serial); two phases side by side on one core each do not pay
that loss, where nothing else (the GIL, memory bandwidth) takes it back. Every variant builds
its cohorts inside the timed call; workers and data are made before timing; interleaved, min of
`--rounds`. With `--ray`, the same two phases also as `lowcap reproduce --executor ray` runs
them on a Ray of its own on this machine (as many tasks per phase as the machine runs at once,
each a cohort of whole lanes), and one task per lane (pair and seed) as it ran them before.

    python benchmarks/bench_overlap.py [--reference-epochs 4] [--corrected-epochs 8] [--ray]
"""

from __future__ import annotations

import argparse
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import torch
from flops import (
    benchmark_inputs,
    capacity_plans,
    capacity_sweep,
    gemm_peak,
    interleaved,
    machine,
    split_cache,
)

from lowcap.concurrency import side_by_side
from lowcap.data import load_mnist
from lowcap.data.datasets import Dataset
from lowcap.data.mnist import MNIST
from lowcap.run.runner import layout
from lowcap.training.malloc import keep_freed_memory

PROTOCOLS = ("reference", "corrected")

_WORKER_PHASE: Callable[[], None] | None = None  # a worker process's one phase


def phase(mnist: MNIST, protocol: str, epochs: int) -> Callable[[], None]:
    """Training the paper's capacity sweep of `protocol` for `epochs` epochs, from its start."""
    sweep = capacity_sweep(mnist, protocol, split_cache(mnist))

    def train() -> None:
        sweep.train(sweep.cohort(), epochs)

    return train


def ray_tasks(mnist: MNIST, epochs: dict[str, int], threads: int,
              lane_each: bool = False) -> Callable[[], None]:
    """Both phases as Ray tasks of `threads` threads (and as many CPUs) on this machine's own
    Ray: cut as `lowcap.run.distributed.RayExecutor` cuts them, or one task per lane (how it
    cut them before)."""
    import ray

    from lowcap.run.distributed import task_slots, task_units, train_remote

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=torch.get_num_threads(), include_dashboard=False,
                 logging_level="ERROR", log_to_driver=False, configure_logging=False,
                 _node_ip_address="127.0.0.1")
    task = ray.remote(num_cpus=threads)(train_remote)
    data = ray.put(Dataset.of_mnist(mnist))
    split_of = split_cache(mnist)
    slots = task_slots(ray, {"num_cpus": threads})
    phase_lanes = [layout(capacity_plans(protocol, epochs[protocol]), split_of)[1]
                   for protocol in PROTOCOLS]
    units = [unit for lanes in phase_lanes
             for unit in (lanes if lane_each else task_units(lanes, slots))]

    def run() -> None:
        ray.get([task.remote(data, plans, "cpu", threads) for plans in units])

    return run


def _start_worker(protocol: str, epochs: int) -> None:
    global _WORKER_PHASE
    keep_freed_memory()  # as the driver (and lowcap) does: no page faults on every temporary
    torch.set_num_threads(1)
    _WORKER_PHASE = phase(load_mnist(progress=False).mnist, protocol, epochs)


def _run_worker_phase() -> None:
    assert _WORKER_PHASE is not None
    _WORKER_PHASE()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-epochs", type=int, default=4)
    parser.add_argument("--corrected-epochs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ray", action="store_true",
                        help="also the lanes as Ray tasks on a local Ray (pip install ray)")
    args, device, mnist, _ = benchmark_inputs(parser)
    if device.type != "cpu":
        parser.error("this benchmark splits a CPU's cores; run it with --device cpu")
    cores = torch.get_num_threads()
    epochs = {"reference": args.reference_epochs, "corrected": args.corrected_epochs}
    phases = [phase(mnist, protocol, epochs[protocol]) for protocol in PROTOCOLS]
    # One single-worker pool per phase, so each phase has a process (and a core) of its own.
    pools = [ProcessPoolExecutor(1, multiprocessing.get_context("spawn"),
                                 initializer=_start_worker, initargs=(protocol, epochs[protocol]))
             for protocol in PROTOCOLS]

    def one_after_another(threads: int) -> Callable[[], None]:
        def run() -> None:
            torch.set_num_threads(threads)
            for train in phases:
                train()
            torch.set_num_threads(cores)
        return run

    def processes() -> None:
        for future in [pool.submit(_run_worker_phase) for pool in pools]:
            future.result()

    def threads() -> None:
        side_by_side(lambda train: train(), phases)

    variants = {f"one after another, {cores} threads": one_after_another(cores),
                "one after another, 1 thread": one_after_another(1),
                "side by side, 2 processes x 1 thread": processes,
                "side by side, 2 threads of one process x 1": threads}
    if args.ray:
        variants[f"Ray tasks as lowcap cuts them x {cores} threads"] = ray_tasks(mnist, epochs,
                                                                               cores)
        variants[f"Ray tasks, a lane each x {cores} threads"] = ray_tasks(mnist, epochs, cores,
                                                                         lane_each=True)
    try:
        seconds = interleaved(device, variants, 1, rounds=args.rounds)
    finally:
        for pool in pools:
            pool.shutdown()
    print(machine(device))
    print(f"float32 GEMM peak {gemm_peak(device):.0f} GFLOP/s (same run); phases: capacity "
          f"sweep, reference {args.reference_epochs} epochs + corrected "
          f"{args.corrected_epochs} epochs")
    baseline = seconds[f"one after another, {cores} threads"]
    print(f"{'variant':<46}{'s':>8}{'vs one after another':>22}")
    for name, value in seconds.items():
        print(f"{name:<46}{value:>8.2f}{baseline / value:>21.2f}x")
    # Side by side can at best halve the one-thread time, and only with phases of equal length.
    bound = seconds["one after another, 1 thread"] / 2
    print(f"{'bound: half the one-thread time':<46}{bound:>8.2f}{baseline / bound:>21.2f}x")


if __name__ == "__main__":
    main()
