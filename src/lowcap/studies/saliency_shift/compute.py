"""Saliency under corruption as a resumable analysis: per selected model, its maps on clean,
noisy and occluded validation images, how far they moved, and its F1 on the same images."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import f1_score

from lowcap.models.forward import forward
from lowcap.run.analysis_cache import Rows, run_analysis_unit
from lowcap.run.config import ProtocolConfig
from lowcap.run.context import RunContext
from lowcap.studies.robustness.corruptions import gaussian_noise, occluder_masks
from lowcap.studies.saliency import maps
from lowcap.studies.selection import at_pair_and_widths, by_lane


def occluder_share(attribution: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """Per image, the share of the map's absolute mass on the occluder (NaN for a zero map)."""
    mass = attribution.abs().double()
    total = mass.sum(1)
    share = (mass * mask).sum(1) / total.clamp_min(1e-300)
    return torch.where(total > 0, share, torch.nan).cpu().numpy()


def _f1(params, x: torch.Tensor, y: torch.Tensor, activation: str) -> float:
    predicted = (forward(params, x, activation) > 0).cpu().numpy()
    return float(f1_score(y.cpu().numpy(), predicted, zero_division=0))


def compute(ctx: RunContext, cfg, protocol: ProtocolConfig) -> bool:
    """Per model: F1 clean, per σ and occluded; per method and corruption the mean per-image
    Spearman correlation of the map with the clean one, and under occlusion the map's share
    of mass on the occluder."""
    spec = cfg.saliency_shift
    models = at_pair_and_widths(spec).healthy(ctx, cfg, protocol)

    def measure() -> Rows:
        rows: Rows = []
        for split, members, plist in by_lane(ctx, models):
            bank = ctx.analysis_bank(members[0].plan)
            x, y = bank.sample(split, "val", spec.max_images, spec.seed)
            mask = occluder_masks(len(x), spec.occlusion_size, spec.seed, x.device)
            inputs = {("gaussian", sigma): gaussian_noise(x, sigma, spec.seed)
                      for sigma in spec.sigmas}
            inputs[("occlusion", float(spec.occlusion_size))] = x.masked_fill(mask, 0.0)
            for model, params in zip(members, plist, strict=True):
                act = model.plan.hp.activation
                rows.append((model.model_id, {"corruption": "clean", "parameter": 0.0}, "f1",
                             _f1(params, x, y, act)))
                clean = {m: maps.centred_ranks(maps.attribute(m, params, x, act,
                                                              spec.epsilon).abs())
                         for m in spec.methods}
                for (name, parameter), images in inputs.items():
                    key = {"corruption": name, "parameter": parameter}
                    rows.append((model.model_id, key, "f1", _f1(params, images, y, act)))
                    for method in spec.methods:
                        moved = maps.attribute(method, params, images, act, spec.epsilon).abs()
                        spearman = maps.rank_correlation(clean[method],
                                                         maps.centred_ranks(moved))
                        rows.append((model.model_id, {**key, "method": method}, "spearman",
                                     float(np.nanmean(spearman))))
                        if name == "occlusion":
                            rows.append((model.model_id, {**key, "method": method},
                                         "occluder_share",
                                         float(np.nanmean(occluder_share(moved, mask)))))
        return rows

    identity = {"models": [m.model_id for m in models], "version": 1,
                **spec.model_dump(mode="json", exclude={"select"})}
    return run_analysis_unit(ctx, "saliency_shift", identity, measure)
