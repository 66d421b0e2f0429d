"""§4.4 as a resumable analysis: dead, disconnected and live units before and after pruning."""

from __future__ import annotations

from lowcap.run.analysis_cache import Rows, run_analysis_unit
from lowcap.run.config import ProtocolConfig
from lowcap.run.context import RunContext
from lowcap.studies.dead_neurons.units import dead_units, disconnected_units
from lowcap.studies.pruning.methods import prune
from lowcap.studies.selection import Selection, by_lane


def compute(ctx: RunContext, cfg, protocol: ProtocolConfig) -> bool:
    """Dead hidden units (see `dead_units`), before and after pruning."""
    assert cfg.dead_neurons is not None
    models = Selection(cfg.dead_neurons.select).healthy(ctx, cfg, protocol)
    level = cfg.dead_neurons.level

    def measure() -> Rows:
        rows: Rows = []
        for split, members, plist in by_lane(ctx, models):
            x, _ = ctx.analysis_bank(members[0].plan).inputs(split, "val")
            pruned, _ = prune(plist, level, "layerwise")
            for model, dense, sparse in zip(members, plist, pruned, strict=True):
                for lvl, params in ((0.0, dense), (level, sparse)):
                    dead = dead_units(params, x, model.plan.hp.activation)
                    cut = disconnected_units(params) & ~dead
                    for metric, units in (("dead", dead), ("disconnected", cut),
                                          ("live", ~dead & ~cut)):
                        rows.append((model.model_id, {"level": lvl}, metric, float(units.sum())))
        return rows

    # "version" 2: disconnected and live units are counted too (older runs recompute).
    identity = {"models": [m.model_id for m in models], "level": level, "version": 2}
    return run_analysis_unit(ctx, "dead_neurons", identity, measure)
