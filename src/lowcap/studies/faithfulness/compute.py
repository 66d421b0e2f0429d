"""Attribution faithfulness as a resumable analysis: every selected model, dense and pruned,
each attribution method's deletion and insertion curves, and the randomisation check."""

from __future__ import annotations

import numpy as np
import torch

from lowcap.models.mlp import init_params
from lowcap.run.analysis_cache import Rows, run_analysis_unit
from lowcap.run.config import ProtocolConfig
from lowcap.run.context import RunContext
from lowcap.studies.faithfulness.curves import area, deletion_insertion, pixel_counts
from lowcap.studies.pruning.methods import prune
from lowcap.studies.saliency import maps
from lowcap.studies.selection import at_pair_and_widths, by_lane


def attribution(method: str, params, x: torch.Tensor, spec, activation: str,
                generator: torch.Generator) -> torch.Tensor:
    """One method's maps [N, 784], or a seeded random ranking for `random`."""
    if method == "random":
        return torch.rand(x.shape, generator=generator, dtype=torch.float64).to(x)
    return maps.attribute(method, params, x, activation, spec.epsilon)


def compute(ctx: RunContext, cfg, protocol: ProtocolConfig) -> bool:
    """Per model, state (dense, pruned) and method: the curves' areas and points; per model
    and method: the Spearman agreement of its maps with a randomly re-initialised model's."""
    spec = cfg.faithfulness
    models = at_pair_and_widths(spec).healthy(ctx, cfg, protocol)
    counts = pixel_counts(spec.points)

    def measure() -> Rows:
        rows: Rows = []
        for split, members, plist in by_lane(ctx, models):
            bank = ctx.analysis_bank(members[0].plan)
            x, y = bank.sample(split, "val", spec.max_images, spec.seed)
            pruned, _ = prune(plist, spec.level, "layerwise")
            for model, dense, sparse in zip(members, plist, pruned, strict=True):
                act = model.plan.hp.activation
                fresh = {k: v.to(x) for k, v in init_params(
                    model.plan.hidden, spec.seed + 10_000, model.plan.hp.init_spec, x.shape[1],
                    pair=model.plan.pair, depth=model.plan.hp.depth).items()}
                for method in spec.methods:
                    gen = torch.Generator().manual_seed(spec.seed)
                    for state, params in (("dense", dense), ("pruned", sparse)):
                        scores = attribution(method, params, x, spec, act, gen)
                        curves = deletion_insertion(params, x, y, scores, counts, act)
                        key = {"state": state, "method": method, "level": spec.level}
                        for name, curve in curves.items():
                            rows.append((model.model_id, key, f"{name}_auc", area(curve)))
                            rows += [(model.model_id, {**key, "k": k}, name, float(value))
                                     for k, value in zip(counts, curve.tolist(), strict=True)]
                    if method != "random":
                        trained = attribution(method, dense, x, spec, act, gen)
                        randomised = attribution(method, fresh, x, spec, act, gen)
                        agree = maps.agreement(trained, randomised)["spearman"]
                        rows.append((model.model_id, {"method": method},
                                     "randomisation_spearman", float(np.nanmean(agree))))
        return rows

    identity = {"models": [m.model_id for m in models], "version": 1,
                **spec.model_dump(mode="json", exclude={"select"})}
    return run_analysis_unit(ctx, "faithfulness", identity, measure)
