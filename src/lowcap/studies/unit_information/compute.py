"""Unit information as a resumable analysis: every selected model, dense and pruned."""

from __future__ import annotations

import torch

from lowcap.models.forward import every_hidden_layer
from lowcap.run.analysis_cache import Rows, run_analysis_unit
from lowcap.run.config import ProtocolConfig
from lowcap.run.context import RunContext
from lowcap.studies.pruning.methods import prune
from lowcap.studies.selection import Selection, by_lane
from lowcap.studies.unit_information.information import (
    specialisation,
    unit_label_information,
)


def compute(ctx: RunContext, cfg, protocol: ProtocolConfig) -> bool:
    """Per model and state (dense, pruned): the `specialisation` numbers of its units'
    information about the label, on the validation split."""
    spec = cfg.unit_information
    models = Selection(spec.select).healthy(ctx, cfg, protocol)

    def measure() -> Rows:
        rows: Rows = []
        for split, members, plist in by_lane(ctx, models):
            x, y = ctx.analysis_bank(members[0].plan).inputs(split, "val")
            pruned, _ = prune(plist, spec.level, "layerwise")
            for model, dense, sparse in zip(members, plist, pruned, strict=True):
                for state, params in (("dense", dense), ("pruned", sparse)):
                    # Every hidden layer's units (one hidden layer: its h units).
                    hidden = torch.cat(every_hidden_layer(params, x, model.plan.hp.activation), 1)
                    values = specialisation(unit_label_information(hidden, y, spec.bins))
                    rows += [(model.model_id, {"state": state, "level": spec.level}, metric,
                              value) for metric, value in values.items()]
        return rows

    identity = {"models": [m.model_id for m in models], "bins": spec.bins,
                "level": spec.level, "version": 1}
    return run_analysis_unit(ctx, "unit_information", identity, measure)
