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
        mnist = ctx.datasets.get("mnist")
        split = make_split(mnist.train_labels, mnist.test_labels, (4, 9), 0)
        rows = split.train_idx[: spec.samples]
        x = torch.from_numpy(mnist.train_inputs[rows].reshape(len(rows), -1) / 255.0)
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
        settings = narrow.grid(spec.methods, spec.radii, spec.lrs, spec.adam_lrs, spec.seeds)
        for name in spec.datasets:
            x, y = (t.to(ctx.device) for t in dataset(ctx, spec, name))
            for multiplier, width in widths(spec, *x.shape).items():
                items.append((spec, settings, x, y, name, multiplier, width))
        return [row for rows in ctx.map(_width_rows, items) for row in rows]

    return run_analysis_unit(ctx, "narrow", spec.model_dump(mode="json"), measure)


def _width_rows(spec: NarrowConfig, settings: list[narrow.Setting], x: torch.Tensor,
                y: torch.Tensor, name: str, multiplier: float, width: int) -> list[tuple]:
    """Loss curves of every setting of one width, all methods trained together; σ_min curves
    for each method's best (radius, lr) only, the one the report shows (an n × n eigenproblem
    per point is most of this phase's cost otherwise), all in one batch. Step 0 (the seed's
    mirrored initialisation, shared by every method) is computed once per seed."""
    run, members = narrow.train(x, y, width, settings, spec.steps, spec.activation,
                                spec.batch_size)
    by_setting = defaultdict(list)
    for i, member in enumerate(members):
        by_setting[(member.method, member.radius, member.lr)].append(i)
    shown_rows = []
    for method in spec.methods:
        finals = {key: run.loss[rows, -1] for key, rows in by_setting.items()
                  if key[0] == method}
        shown_rows += by_setting[narrow.best_setting(finals)]
    initial = narrow.initial_sigma_min(width, spec.seeds, x, spec.activation)
    later = run.sigma_min(shown_rows, x, spec.activation, start=1)
    sigma = {i: [initial[members[i].seed], *curve]
             for i, curve in zip(shown_rows, later.tolist(), strict=True)}
    rows = []
    for i, member in enumerate(members):
        shown = member.radius if member.projected else None
        run_id = (f"narrow/{name}/{member.method}/m{width}/R{shown}/lr{member.lr:g}"
                  f"/s{member.seed}")
        params = {"dataset": name, "method": member.method, "width": width,
                  "multiplier": multiplier, "radius": shown, "lr": member.lr,
                  "seed": member.seed}
        for j, step in enumerate(run.steps):
            rows.append((run_id, {**params, "step": step}, "loss", float(run.loss[i, j])))
            if i in sigma:
                rows.append((run_id, {**params, "step": step}, "sigma_min", float(sigma[i][j])))
    return rows
