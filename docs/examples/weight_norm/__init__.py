"""A toy study: the weight norms of the capacity sweep's models, by width.

This folder is the worked example of docs/write-a-study.md. Copied to
`src/lowcap/studies/weight_norm/` and listed in `lowcap/studies/registry.py`, it gives lowcap a
`weight_norm:` config section, a `lowcap weight-norm DIR` command, a report section and a
`weight_norm` summary key. The test suite registers it as it is
(tests/studies/test_study_registry.py).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from lowcap.report.html import table
from lowcap.report.tables import results_by_model
from lowcap.run.analysis_cache import Rows, run_analysis_unit
from lowcap.run.config import ConfigSection, ProtocolConfig
from lowcap.run.context import RunContext
from lowcap.studies.base import Command, ReportInput, Section, Study, option
from lowcap.studies.selection import ModelFilter, Selection


class WeightNormConfig(ConfigSection):
    """The `weight_norm:` section: which models, and which norm of each layer's weights."""

    # Which trained models it reads (default: the capacity sweep's).
    select: ModelFilter = ModelFilter()
    # "fro": the Frobenius norm; "max": the largest absolute weight.
    norm: Literal["fro", "max"] = "fro"


def compute(ctx: RunContext, cfg, protocol: ProtocolConfig) -> bool:
    """Each selected model's layer norms, into the store (skipped when already there)."""
    models = Selection(cfg.weight_norm.select).healthy(ctx, cfg, protocol)
    norm = cfg.weight_norm.norm

    def measure() -> Rows:
        rows: Rows = []
        for model in models:
            params = ctx.load_params(model.model_id)
            for layer in ("w1", "w2"):
                w = params[layer]
                value = w.norm() if norm == "fro" else w.abs().max()
                rows.append((model.model_id, {"norm": norm}, layer, float(value)))
        return rows

    # The identity names the exact work: a new model or another norm computes again.
    identity = {"models": [m.model_id for m in models], "norm": norm}
    return run_analysis_unit(ctx, "weight_norm", identity, measure)


def report(inp: ReportInput) -> Section:
    """Summary key `weight_norm`: pair → width → mean ‖w1‖ over seeds; a table."""
    plans = Selection(inp.cfg.weight_norm.select).plans(inp.cfg, inp.protocol)
    rows = results_by_model(inp.store, "weight_norm", plans)
    by_width: dict[str, dict[str, list[float]]] = {}
    for plan in plans:
        for row in rows.get(plan.model_id, []):
            if row["metric"] == "w1":
                by_width.setdefault(plan.pair_key, {}).setdefault(str(plan.hidden), []).append(
                    row["value"])
    result = {pair: {h: float(np.mean(v)) for h, v in widths.items()}
              for pair, widths in by_width.items()}
    cells = [[pair, h, value] for pair, widths in result.items() for h, value in widths.items()]
    return Section({"weight_norm": result}, [],
                   "<h3>Weight norm by width</h3>" + table(["pair", "hidden", "‖w1‖"], cells))


STUDY = Study(
    "weight_norm", WeightNormConfig, compute=compute, report=report,
    selection=lambda cfg: Selection(cfg.weight_norm.select),
    command=Command(
        "weight-norm", "Weight norms of a run's capacity models, by width; rebuilds the report.",
        options=(option("--norm", "fro or max."),),
        overrides=lambda norm: {"norm": norm}))
