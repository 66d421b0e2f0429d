"""Companion paper B as a resumable analysis: narrow networks, projected methods vs SGD/Adam."""

from __future__ import annotations

import math
from collections import defaultdict

import torch

from lowcap.data.tasks import make_split
from lowcap.run.config import ProtocolConfig
from lowcap.run.runner import RunContext, run_analysis_unit
from lowcap.studies.narrow import methods as narrow
from lowcap.studies.narrow.config import NarrowConfig


def dataset(ctx: RunContext, spec: NarrowConfig, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(x [n, d] with unit-norm rows, y [n]) in float64: Gaussian inputs with random N(0, 1)
    targets, or n MNIST (4, 9) training images with ±1 labels."""
    if name == "synthetic":
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(spec.samples, spec.synthetic_dim, generator=gen, dtype=torch.float64)
        y = torch.randn(spec.samples, generator=gen, dtype=torch.float64)
    else:
        split = make_split(ctx.mnist.train_labels, ctx.mnist.test_labels, (4, 9), 0)
        rows = split.train_idx[: spec.samples]
        x = torch.from_numpy(ctx.mnist.train_images[rows].reshape(len(rows), -1) / 255.0)
        y = torch.from_numpy(2.0 * split.train_y[: spec.samples] - 1).double()
    return x / x.norm(dim=1, keepdim=True), y


def widths(spec: NarrowConfig, n: int, dim: int) -> dict[float, int]:
    """multiplier → even width m ≈ multiplier · ⌈2n/d⌉ (at least 2)."""
    base = math.ceil(2 * n / dim)
    return {k: max(2, 2 * math.ceil(k * base / 2)) for k in spec.multipliers}


def compute(ctx: RunContext, cfg, protocol: ProtocolConfig) -> bool:
    """Run once (under the config's first protocol: it does not depend on one)."""
    spec = cfg.narrow
    assert spec is not None
    if protocol.name != cfg.protocols[0].name:
        return False

    def measure():
        items = []
        for name in spec.datasets:
            x, y = dataset(ctx, spec, name)
            for multiplier, width in widths(spec, *x.shape).items():
                initial = narrow.initial_sigma_min(width, spec.seeds, x, spec.activation)
                items += [(spec, x, y, name, multiplier, width, method, initial)
                          for method in spec.methods]
        return [row for rows in ctx.map(_method_rows, items) for row in rows]

    return run_analysis_unit(ctx, "narrow", spec.model_dump(mode="json"), measure)


def _method_rows(spec: NarrowConfig, x: torch.Tensor, y: torch.Tensor, name: str,
                 multiplier: float, width: int, method: str, initial: dict[int, float]
                 ) -> list[tuple]:
    """Loss curves of every (radius, lr, seed) of one method and width; σ_min curves for the
    best (radius, lr) only, the one the report shows (an n × n eigenproblem per point is most
    of this phase's cost otherwise), starting from `initial` (seed → σ_min at step 0, shared
    by every method)."""
    lrs = spec.adam_lrs if method.endswith("adam") else spec.lrs
    projected = method.startswith("projected")
    run, members = narrow.train(  # unconstrained methods ignore the radius
        x, y, width, method, spec.radii if projected else [0.0], lrs, spec.seeds, spec.steps,
        spec.activation, spec.batch_size)
    by_setting = defaultdict(list)
    for i, (radius, lr, _) in enumerate(members):
        by_setting[(radius, lr)].append(i)
    best = narrow.best_setting({k: run.loss[i, -1] for k, i in by_setting.items()})
    later = run.sigma_min(by_setting[best], x, spec.activation, start=1)
    sigma = {i: [initial[members[i][2]], *curve]
             for i, curve in zip(by_setting[best], later.tolist(), strict=True)}
    rows = []
    for i, (radius, lr, seed) in enumerate(members):
        shown = radius if projected else None
        run_id = f"narrow/{name}/{method}/m{width}/R{shown}/lr{lr:g}/s{seed}"
        params = {"dataset": name, "method": method, "width": width, "multiplier": multiplier,
                  "radius": shown, "lr": lr, "seed": seed}
        for j, step in enumerate(run.steps):
            rows.append((run_id, {**params, "step": step}, "loss", float(run.loss[i, j])))
            if i in sigma:
                rows.append((run_id, {**params, "step": step}, "sigma_min", float(sigma[i][j])))
    return rows
