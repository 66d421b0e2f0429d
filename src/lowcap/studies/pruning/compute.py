"""§4.3 as a resumable analysis: every selected model pruned at every level by every method,
evaluated on validation and test."""

from __future__ import annotations

import numpy as np

from lowcap.run.analysis_cache import Rows, run_analysis_unit
from lowcap.run.config import ProtocolConfig
from lowcap.run.context import RunContext
from lowcap.studies.pruning.methods import Pruner
from lowcap.studies.selection import Selection, by_lane
from lowcap.training.parameter_sets import evaluate_lane


def pruning_methods(cfg, protocol: ProtocolConfig) -> list[str]:
    """The configured methods (layerwise once per rounding), plus the reference code's scaled
    fractions where asked."""
    if cfg.pruning is None:
        return []
    methods = [m for m in cfg.pruning.methods
               if m != "layerwise" or "floor" in cfg.pruning.rounding]
    if "layerwise" in cfg.pruning.methods and "nearest" in cfg.pruning.rounding:
        methods.append("layerwise_nearest")
    return methods + (["layerwise_refscale"] if protocol.pruning_fraction_scale == "both" else [])


def compute(ctx: RunContext, cfg, protocol: ProtocolConfig) -> bool:
    """Every selected model pruned at every level by every method, evaluated on val and test."""
    assert cfg.pruning is not None
    models = Selection(cfg.pruning.select).healthy(ctx, cfg, protocol)
    methods = pruning_methods(cfg, protocol)
    levels = cfg.pruning.levels

    def measure() -> Rows:
        lanes = by_lane(ctx, models)
        flat = [p for _, _, plist in lanes for p in plist]
        ids = [m.model_id for _, members, _ in lanes for m in members]
        variants: list[tuple[str, float, list, np.ndarray]] = [
            ("dense", 0.0, flat, np.zeros(len(flat)))]
        pruner = Pruner(flat)
        for level in levels:
            for method in methods:
                pruned, achieved = pruner.prune(level, method, seed=round(level * 1000))
                variants.append((method, level, pruned, achieved.cpu().numpy()))
        # One work item per split (a Ray task on a cluster): all its models' variants.
        items, start = [], 0
        for split, members, _ in lanes:
            count = len(members)
            bank = ctx.analysis_bank(members[0].plan)
            inputs = {part: bank.inputs(split, part) for part in ("val", "test")}
            params = [p for _, _, ps, _ in variants for p in ps[start:start + count]]
            items.append((split, inputs, params, members[0].plan.hp.activation))
            start += count
        rows: Rows = []
        start = 0
        for (_, members, _), results in zip(lanes, ctx.map(evaluate_lane, items), strict=True):
            count = len(members)
            for part, metrics in results.items():
                for v, (method, level, _, achieved) in enumerate(variants):
                    for i, model in enumerate(members):
                        params = {"method": method, "level": level}
                        j = v * count + i
                        rows.append((model.model_id, params, f"{part}_f1", metrics["f1"][j]))
                        rows.append((model.model_id, params, f"{part}_auc", metrics["auc"][j]))
                        if part == "val":
                            rows.append((model.model_id, params, "achieved_sparsity",
                                         achieved[start + i]))
            start += count
        assert len({r[0] for r in rows}) == len(ids)
        return rows

    identity = {"models": [m.model_id for m in models], "levels": levels, "methods": methods}
    return run_analysis_unit(ctx, "pruning", identity, measure)
