"""§4.5 as a resumable analysis: t-SNE of one model's hidden activations before and after
pruning, scored; the embeddings are kept in the store for Fig 5."""

from __future__ import annotations

import numpy as np
import torch

from lowcap.concurrency import side_by_side
from lowcap.models.forward import every_hidden_layer
from lowcap.run.analysis_cache import Rows
from lowcap.run.checkpoints import save_tensors
from lowcap.run.context import RunContext
from lowcap.run.runner import TrainedModel
from lowcap.studies.dead_neurons.units import live_units
from lowcap.studies.pruning.methods import prune
from lowcap.studies.selection import one_model_analysis
from lowcap.studies.tsne.embedding import embed

# The store artefact holding a protocol's embeddings and per-point agreement.
ARTEFACT = "tsne-{}"


def _measure(ctx: RunContext, spec, protocol: str, model: TrainedModel) -> Rows:
    """Fig 5: 2-D t-SNE of one model's hidden activations (every hidden layer's) before and
    after pruning, each view embedded `spec.embeddings` times (scores are means over the
    runs; Fig 5 shows the first run)."""
    split = ctx.split(model.plan)
    x, y = ctx.analysis_bank(model.plan).inputs(split, "val")
    take = np.random.default_rng(spec.seed).permutation(len(y))[: spec.max_points]
    x, y = x[torch.from_numpy(take).to(x.device)], y.cpu().numpy()[take]
    dense = ctx.load_params(model.model_id)
    (sparse,), _ = prune([dense], spec.level, "layerwise")
    rows: Rows = []
    arrays = {"labels": torch.from_numpy(y)}
    act = model.plan.hp.activation

    def units(params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Every hidden layer's units side by side (one hidden layer: its h units)."""
        return torch.cat(every_hidden_layer(params, x, act), dim=1)

    pruned = units(sparse)
    views = [(0.0, units(dense), "all"), (spec.level, pruned, "all"),
             (spec.level, pruned[:, live_units(sparse, x, act)], "live")]
    features = [hidden.cpu().numpy() for _, hidden, _ in views]
    seeds = range(spec.seed, spec.seed + spec.embeddings)
    jobs = [(f, seed) for f in features for seed in seeds]
    results = side_by_side(lambda job: embed(job[0], y, spec.perplexity, job[1]), jobs)
    for v, ((lvl, _, units), hidden) in enumerate(zip(views, features, strict=True)):
        runs = results[v * len(seeds):(v + 1) * len(seeds)]
        suffix = "_live" if units == "live" else ""
        arrays[f"embedding_{lvl}{suffix}"] = torch.from_numpy(runs[0].embedding)  # Fig 5
        arrays[f"agreement_{lvl}{suffix}"] = torch.from_numpy(  # [runs, points]
            np.stack([r.agreement for r in runs]))
        scores = {k: float(np.mean([r.scores[k] for r in runs])) for k in runs[0].scores}
        for metric, value in {**scores, "units": float(hidden.shape[1])}.items():
            rows.append((model.model_id, {"level": lvl, "units": units}, metric, value))
    save_tensors(ctx.store.artefact(ARTEFACT.format(protocol)), arrays)
    return rows


# "version" 3: exact neighbours, several runs per view (older runs recompute).
compute = one_model_analysis("tsne", 3, _measure)
