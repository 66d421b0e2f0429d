"""Companion paper B as a resumable analysis: narrow networks, every projected arm beside its
unconstrained twin, trained to the same budget, one batched program per (data set, width)."""

from __future__ import annotations

from collections import defaultdict

import torch

from lowcap.run.analysis_cache import run_analysis_unit
from lowcap.run.config import ProtocolConfig
from lowcap.run.context import RunContext
from lowcap.studies.narrow import methods as narrow
from lowcap.studies.narrow.config import NarrowConfig
from lowcap.studies.narrow.data import NarrowData, load, widths


def compute(ctx: RunContext, cfg, protocol: ProtocolConfig) -> bool:
    """Run once (under the config's first protocol: it does not depend on one)."""
    spec: NarrowConfig = cfg.narrow
    if protocol.name != cfg.protocols[0].name:
        return False

    def measure():
        settings = narrow.grid(list(spec.arms), spec.radii, spec.lrs, spec.adam_lrs,
                               spec.seeds)
        items = []
        for name in spec.datasets:
            data = load(ctx.datasets, spec, name).to(ctx.device, getattr(torch, spec.dtype))
            near = min(widths(spec, data), key=lambda m: abs(m / data.interpolation_width - 1))
            items += [(spec, settings, data, width, width == near)
                      for width in widths(spec, data)]
        return [row for rows in ctx.map(width_rows, items) for row in rows]

    # "version" 2: the matched design (starts, full-batch GD, inputs of norm √d, test accuracy).
    return run_analysis_unit(ctx, "narrow", {"version": 2, **spec.model_dump(mode="json")},
                             measure)


def width_rows(spec: NarrowConfig, settings: list[narrow.Setting], data: NarrowData,
               width: int, verdict_width: bool) -> list[tuple]:
    """Every setting of one width trained together: each run's loss curve, how far it
    travelled from its start (and whether it ended on its ball's boundary), its test accuracy
    where the labels are real; and, at the width the verdict reads, σ_min of the feature
    Jacobian at the start and the end of each arm's best (radius, lr) (one n × n eigenproblem
    per run and per start, so only there)."""
    run, members = narrow.train(data.x, data.y, width, settings, spec.steps, spec.activation,
                                spec.batch_size)
    travelled = run.travelled() / run.w0.flatten(1).norm(dim=1).cpu().numpy()
    boundary = run.on_boundary()
    accuracy = (None if data.x_test is None else
                ((narrow.forward(run.w, run.v, data.x_test, spec.activation) > 0)
                 == (data.y_test > 0)).double().mean(1).cpu().numpy())
    sigma = _sigma_min(run, members, data.x, spec.activation) if verdict_width else {}
    ratio = width / data.interpolation_width
    rows = []
    for i, s in enumerate(members):
        radius = s.radius if s.projected else None
        run_id = f"narrow/{data.name}/{s.arm}/m{width}/R{radius}/lr{s.lr:g}/s{s.seed}"
        params = {"dataset": data.name, "method": s.method, "start": s.start, "width": width,
                  "ratio": ratio, "radius": radius, "lr": s.lr, "seed": s.seed}
        rows += [(run_id, {**params, "step": step}, "loss", float(run.loss[i, j]))
                 for j, step in enumerate(run.steps)]
        final = {"travelled": float(travelled[i]), "on_boundary": float(boundary[i])}
        if accuracy is not None:
            final["test_accuracy"] = float(accuracy[i])
        if i in sigma:
            final["sigma_min_start"], final["sigma_min_end"] = sigma[i]
        rows += [(run_id, params, metric, value) for metric, value in final.items()]
    return rows


def _sigma_min(run: narrow.NarrowRun, members: list[narrow.Setting], x: torch.Tensor,
               activation: str) -> dict[int, tuple[float, float]]:
    """Row → σ_min at the start and the end, for the runs of each arm's best (radius, lr)."""
    by_setting: dict[tuple, list[int]] = defaultdict(list)
    for i, s in enumerate(members):
        by_setting[(s.arm, s.radius, s.lr)].append(i)
    rows = []
    for arm in dict.fromkeys(s.arm for s in members):
        finals = {key: run.loss[idx, -1] for key, idx in by_setting.items() if key[0] == arm}
        rows += by_setting[narrow.best_setting(finals)]
    x, v = x.double(), run.v.double()
    # Runs of one (start, seed) begin at the same draw of W0 and v: one eigenproblem each.
    draws: dict[tuple[str, int], int] = {}
    for i in rows:
        draws.setdefault((members[i].start, members[i].seed), i)
    first = list(draws.values())
    at_start = dict(zip(draws, narrow.smallest_singular_value(
        run.w0[first].double(), v[first], x, activation).tolist(), strict=True))
    end = narrow.smallest_singular_value(run.w[rows].double(), v[rows], x, activation)
    return {i: (at_start[(members[i].start, members[i].seed)], float(b))
            for i, b in zip(rows, end.tolist(), strict=True)}
