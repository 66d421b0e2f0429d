"""Double descent as a resumable analysis: every trained model's 0-1 error on the labels it
trained on (noisy ones included: 0 means it interpolates them) and on the test split."""

from __future__ import annotations

import torch

from lowcap.models.forward import forward
from lowcap.run.analysis_cache import Rows, run_analysis_unit
from lowcap.run.config import ProtocolConfig
from lowcap.run.context import RunContext
from lowcap.run.runner import trained_models
from lowcap.studies.double_descent.config import plans
from lowcap.studies.selection import by_lane


def compute(ctx: RunContext, cfg, protocol: ProtocolConfig) -> bool:
    """Per model: `train_error` (against its training labels, as flipped) and `test_error`,
    and its parameter count."""
    models = [m for m in trained_models(ctx.store, plans(cfg, protocol)) if not m.diverged]
    if not models:
        return False

    def measure() -> Rows:
        rows: Rows = []
        for split, members, plist in by_lane(ctx, models):  # each split's inputs read once
            for part in ("train", "test"):
                x, y = ctx.analysis_bank(members[0].plan).inputs(split, part)
                for model, params in zip(members, plist, strict=True):
                    with torch.no_grad():
                        wrong = (forward(params, x, model.plan.hp.activation) > 0) != (y > 0.5)
                    rows.append((model.model_id, {}, f"{part}_error",
                                 float(wrong.double().mean())))
            rows += [(model.model_id, {}, "parameters",
                      float(sum(t.numel() for t in params.values())))
                     for model, params in zip(members, plist, strict=True)]
        return rows

    return run_analysis_unit(ctx, "double_descent", {"models": [m.model_id for m in models],
                                                     "version": 1}, measure)
