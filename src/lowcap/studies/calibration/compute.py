"""Calibration as a resumable analysis: every selected model's test-set probabilities, dense
and pruned, binned and scored."""

from __future__ import annotations

import torch

from lowcap.models.forward import forward
from lowcap.run.analysis_cache import Rows, run_analysis_unit
from lowcap.run.config import ProtocolConfig
from lowcap.run.context import RunContext
from lowcap.studies.calibration.measures import brier, equal_mass, equal_width
from lowcap.studies.pruning.methods import prune
from lowcap.studies.selection import Selection, by_lane

STATES = ("dense", "pruned")


def compute(ctx: RunContext, cfg, protocol: ProtocolConfig) -> bool:
    """Per model and state (dense; pruned layerwise at `level`): ECE over equal-width and
    equal-mass bins, the Brier score, and the equal-width bins of its reliability diagram, on
    the test split. Probabilities are the sigmoid of the logit in float64."""
    spec = cfg.calibration
    models = Selection(spec.select).healthy(ctx, cfg, protocol)

    def measure() -> Rows:
        rows: Rows = []
        for split, members, plist in by_lane(ctx, models):
            x, y = ctx.analysis_bank(members[0].plan).inputs(split, "test")
            labels = y.cpu().numpy()
            pruned, _ = prune(plist, spec.level, "layerwise")
            for model, dense, sparse in zip(members, plist, pruned, strict=True):
                for state, params in zip(STATES, (dense, sparse), strict=True):
                    logits = forward(params, x, model.plan.hp.activation)
                    p = torch.sigmoid(logits.double()).cpu().numpy()
                    where = {"state": state, "level": spec.level}
                    width_bins = equal_width(p, labels, spec.bins)
                    scores = {"ece": width_bins.error(),
                              "ece_equal_mass": equal_mass(p, labels, spec.bins).error(),
                              "brier": brier(p, labels)}
                    rows += [(model.model_id, where, metric, value)
                             for metric, value in scores.items()]
                    for b, (n, conf, freq) in enumerate(zip(
                            width_bins.count, width_bins.confidence, width_bins.frequency,
                            strict=True)):
                        if n:
                            rows += [(model.model_id, {**where, "bin": b}, metric, float(v))
                                     for metric, v in (("bin_count", n),
                                                       ("bin_confidence", conf),
                                                       ("bin_frequency", freq))]
        return rows

    identity = {"models": [m.model_id for m in models], "bins": spec.bins,
                "level": spec.level, "version": 1}
    return run_analysis_unit(ctx, "calibration", identity, measure)
