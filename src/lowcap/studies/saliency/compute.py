"""§4.7 as a resumable analysis: Fig 8's maps, and dense-vs-pruned agreement over validation
images against a random-pruning baseline at the same sparsity."""

from __future__ import annotations

import numpy as np
import torch

from lowcap.models.forward import forward
from lowcap.ops import empty_cells_quiet
from lowcap.run.analysis_cache import Rows
from lowcap.run.checkpoints import save_tensors
from lowcap.run.context import RunContext
from lowcap.run.runner import TrainedModel
from lowcap.studies.pruning.methods import prune
from lowcap.studies.saliency import maps as saliency
from lowcap.studies.selection import one_model_analysis

# The store artefact holding a protocol's Fig 8 maps and per-image agreement.
ARTEFACT = "saliency-{}"


def _measure(ctx: RunContext, spec, protocol: str, model: TrainedModel) -> Rows:
    """The saliency model's maps dense, magnitude-pruned and randomly pruned, compared."""
    split = ctx.split(model.plan)
    bank = ctx.analysis_bank(model.plan)
    x, y = bank.inputs(split, "val")
    sample, _ = bank.sample(split, "val", spec.max_images, spec.seed)
    dense = ctx.load_params(model.model_id)
    (magnitude,), _ = prune([dense], spec.level, "layerwise")
    (random,), _ = prune([dense], spec.level, "random", seed=spec.seed)
    act = model.plan.hp.activation
    reference = saliency.finite_difference(dense, sample, spec.epsilon, act)
    rows: Rows = []
    per_image = {}
    for name, params in (("magnitude", magnitude), ("random", random)):
        maps = saliency.finite_difference(params, sample, spec.epsilon, act)
        key = {"pruning": name, "level": spec.level}
        for metric, values in saliency.agreement(reference, maps, spec.top_k).items():
            with empty_cells_quiet():  # no finite value (a diverged model): NaN
                rows.append((model.model_id, key, f"{metric}_mean", float(np.nanmean(values))))
                rows.append((model.model_id, key, f"{metric}_std", float(np.nanstd(values))))
            per_image[f"{metric}_{name}"] = torch.from_numpy(values)
        # A pruned network with a constant output has an all-zero map: Spearman is
        # undefined there, and counting it as no agreement (0) is the honest mean.
        undefined = np.isnan(per_image[f"spearman_{name}"].numpy())
        rows.append((model.model_id, key, "undefined_maps", float(undefined.sum())))
        rows.append((model.model_id, key, "images", float(len(undefined))))
        rows.append((model.model_id, key, "spearman_mean_undefined_as_zero",
                     float(np.nan_to_num(per_image[f"spearman_{name}"].numpy()).mean())))
    save_tensors(ctx.store.artefact(ARTEFACT.format(protocol)),
                 {**_figure_maps(dense, magnitude, x, y, spec.epsilon, act), **per_image})
    return rows



def _figure_maps(dense: dict, pruned: dict, x: torch.Tensor, y: torch.Tensor, epsilon: float,
                 activation: str) -> dict[str, torch.Tensor]:
    """Fig 8 panels: a correct first digit, a correct second digit, a first digit taken for the
    second, and the correct first digit under the pruned model (paper, §4.7)."""
    predicted = forward(dense, x, activation) > 0
    correct_a = torch.nonzero((y == 0) & ~predicted).flatten()
    correct_b = torch.nonzero((y == 1) & predicted).flatten()
    mistaken = torch.nonzero((y == 0) & predicted).flatten()
    picks = [int(idx[0]) if len(idx) else -1 for idx in (correct_a, correct_b, mistaken)]
    images = torch.stack([x[i] if i >= 0 else torch.full_like(x[0], float("nan"))
                          for i in picks])
    fd = saliency.finite_difference(dense, images.nan_to_num(), epsilon, activation)
    fd_pruned = saliency.finite_difference(pruned, images[:1].nan_to_num(), epsilon,
                                           activation)
    return {"images": images, "indices": torch.tensor(picks),
            "finite_difference": torch.cat([fd, fd_pruned]),
            "gradient": saliency.gradient(dense, images.nan_to_num(), activation),
            "integrated_gradients": saliency.integrated_gradients(dense, images.nan_to_num(),
                                                                  activation)}


# "version" 2: per-image agreement and undefined maps are stored (older runs recompute).
compute = one_model_analysis("saliency", 2, _measure)
