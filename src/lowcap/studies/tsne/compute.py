"""§4.5 as a resumable analysis: t-SNE of one model's hidden activations before and after
pruning, scored; the embeddings are kept in the store for Fig 5."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from lowcap.models.forward import every_hidden_layer
from lowcap.run.checkpoints import save_tensors
from lowcap.run.runner import Rows, RunContext, TrainedModel
from lowcap.studies.dead_neurons.units import live_units
from lowcap.studies.pruning.methods import prune
from lowcap.studies.selection import one_model_analysis
from lowcap.studies.tsne.embedding import TSNE_THREADS, embed

# The store artefact holding a protocol's embeddings and per-point agreement.
ARTEFACT = "tsne-{}"


def _measure(ctx: RunContext, spec, protocol: str, model: TrainedModel) -> Rows:
    """Fig 5: 2-D t-SNE of one model's hidden activations (every hidden layer's) before and
    after pruning, scored."""
    split = ctx.split(model.plan)
    x, y = ctx.analysis_bank(model.plan).inputs(split, "val")
    take = np.random.default_rng(spec.seed).permutation(len(y))[: spec.max_points]
    x, y = x[torch.from_numpy(take).to(x.device)], y.cpu().numpy()[take]
    dense = ctx.load_params(model.model_id)
    (sparse,), _ = prune([dense], spec.level, "layerwise")
    rows: Rows = []
    arrays = {"labels": torch.from_numpy(y)}
    act = model.plan.activation

    def units(params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Every hidden layer's units side by side (one hidden layer: its h units)."""
        return torch.cat(every_hidden_layer(params, x, act), dim=1)

    pruned = units(sparse)
    views = [(0.0, units(dense), "all"), (spec.level, pruned, "all"),
             (spec.level, pruned[:, live_units(sparse, x, act)], "live")]
    features = [hidden.cpu().numpy() for _, hidden, _ in views]
    # The three embeddings run side by side where the cores allow it (each keeps its fixed
    # thread count, so the results do not depend on the machine).
    workers = max(1, min(len(views), (os.cpu_count() or 1) // TSNE_THREADS))
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda f: embed(f, y, spec.perplexity, spec.seed), features))
    for (lvl, _, units), hidden, result in zip(views, features, results, strict=True):
        suffix = "_live" if units == "live" else ""
        arrays[f"embedding_{lvl}{suffix}"] = torch.from_numpy(result.embedding)
        arrays[f"agreement_{lvl}{suffix}"] = torch.from_numpy(result.agreement)
        for metric, value in {**result.scores, "units": float(hidden.shape[1])}.items():
            rows.append((model.model_id, {"level": lvl, "units": units}, metric, value))
    save_tensors(ctx.store.artefact(ARTEFACT.format(protocol)), arrays)
    return rows


# "version" 2: live-unit embedding and per-point agreement (older runs recompute).
compute = one_model_analysis("tsne", 2, _measure)
