"""Per-phase timings of a finished run and the GFLOP/s each GEMM-bound phase achieved.

    lowcap reproduce --profile paper --out runs/paper --fresh
    python benchmarks/bench_phases.py runs/paper

Reads the run's resolved config and `summary.json` timings; counts each phase's arithmetic (see
flops.py) from the models it trained, and measures the GEMM peaks here, on the device the run
trained on (its summary's `device`), so run it on the machine that ran the job. Training phases
count each model once, in the first phase that trained it (the LR grid reuses the capacity
sweep's models at the main learning rate). Pruning counts a dense evaluation of every model at
every level and method on validation + test. The sensitivity phase counts its variant models'
training only, so its figure is a lower bound.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from flops import gemm_peak, machine, params, train_flops

from lowcap.data import load_mnist
from lowcap.run.split import plan_split
from lowcap.studies.capacity.report import plans as capacity_plans
from lowcap.studies.registry import load_config, studies
from lowcap.studies.schedule import training_groups
from lowcap.studies.sensitivity.compute import population


def phase_flops(run: Path) -> dict[str, float]:
    """Phase name (as in summary.json) → counted FLOPs."""
    cfg = load_config(run / "config.yaml")
    mnist = load_mnist(progress=False).mnist
    sizes: dict[tuple, tuple[int, int]] = {}

    def model_flops(plan) -> float:
        if plan.lane_key() not in sizes:
            split = plan_split(mnist, plan)
            sizes[plan.lane_key()] = (len(split.train_idx),
                                      len(split.val_idx) + len(split.test_idx))
        n_train, n_eval = sizes[plan.lane_key()]
        return train_flops(plan.hidden, n_train, n_eval, plan.hp.epochs)

    out: dict[str, float] = {}
    seen: dict[str, set[str]] = {p.name: set() for p in cfg.protocols}
    for study, protocol_name, plans in training_groups(cfg):
        new = [p for p in plans if p.model_id not in seen[protocol_name]]
        seen[protocol_name] |= {p.model_id for p in new}
        if new:
            out[f"train_{study}_{protocol_name}"] = sum(map(model_flops, new))
    for protocol in cfg.protocols:
        if cfg.pruning is not None:
            methods = len(cfg.pruning.methods) + (protocol.pruning_fraction_scale == "both")
            evals = len(cfg.pruning.levels) * methods
            out[f"pruning_{protocol.name}"] = sum(
                2.0 * params(p.hidden) * sizes[p.lane_key()][1] * evals
                for p in capacity_plans(cfg, protocol))
        if cfg.sensitivity is not None and cfg.sensitivity.protocol == protocol.name:
            variants = [p for v, p in population(cfg, cfg.sensitivity) if v != "base"]
            out[f"sensitivity_{protocol.name}"] = sum(map(model_flops, variants))
    return out


def phase_dtypes(run: Path) -> dict[str, str]:
    """Phase name → the float type its models trained in (a protocol's `dtype`)."""
    cfg = load_config(run / "config.yaml")
    return {f"{kind}_{protocol.name}": protocol.dtype for protocol in cfg.protocols
            for kind in [f"train_{s.name}" for s in studies() if s.plans is not None]
            + ["sensitivity"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished run directory")
    args = parser.parse_args()
    summary = json.loads((args.run / "summary.json").read_text())
    seconds = summary["seconds"]
    device = torch.device(summary["device"])  # the peaks of the device the run trained on
    flops = phase_flops(args.run)
    peaks = {precision: gemm_peak(device, precision=precision)
             for precision in ("highest", "medium")}
    peaks["float64"] = gemm_peak(device, dtype=torch.float64)
    dtypes = phase_dtypes(args.run)
    print(machine(device))
    print(f"GEMM peak {peaks['highest']:.0f} GFLOP/s float32, {peaks['medium']:.0f} GFLOP/s at "
          f"matmul precision 'medium', {peaks['float64']:.0f} GFLOP/s float64 (this machine's "
          f"{device.type}, {torch.get_num_threads()} CPU threads)")
    print(f"{'phase':<32}{'seconds':>9}{'% run':>7}{'TFLOP':>8}{'GFLOP/s':>9}{'% fp32':>8}"
          f"{'% medium':>9}{'% fp64':>8}")
    total = seconds["total"]
    for phase, secs in sorted(seconds.items(), key=lambda kv: -kv[1]):
        if phase == "total":
            continue
        share = f"{phase:<32}{secs:>9.1f}{100 * secs / total:>7.1f}"
        if phase in flops:
            rate = flops[phase] / secs / 1e9
            fp64 = (f"{100 * rate / peaks['float64']:>8.0f}" if dtypes.get(phase) == "float64"
                    else f"{'':>8}")
            print(f"{share}{flops[phase] / 1e12:>8.2f}{rate:>9.0f}"
                  f"{100 * rate / peaks['highest']:>8.0f}{100 * rate / peaks['medium']:>9.0f}"
                  f"{fp64}")
        else:
            print(share)
    print(f"{'total':<32}{total:>9.1f}{100.0:>7.1f}")
    training = sum(secs for phase, secs in seconds.items() if phase.startswith("train_"))
    print(f"training phases {training:.1f} s ({100 * training / total:.0f}% of the run), "
          f"every analysis {total - training:.1f} s ({100 * (total - training) / total:.0f}%)")


if __name__ == "__main__":
    main()
