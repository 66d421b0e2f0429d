"""One round of the lottery-ticket experiment for many models at once.

Per dense model and round r (its IMP mask m_r keeps about (1 − fraction)^r of the weights),
four models train together in one cohort:

- `imp`: the rewind point (initialisation, or the weights after k epochs) under m_r;
- `reinit`: m_r on a fresh random initialisation (control 1);
- `random_mask`: the rewind point under a random mask with m_r's per-layer counts (control 2);
- `oneshot_finetune`: the trained dense model pruned once, by magnitude, to m_r's sparsity,
  then trained again for the same epochs. Before training it is one-shot pruning without
  fine-tuning (`oneshot`), which is evaluated too.

The masked weights stay exactly zero while training (`Cohort.set_masks`); the next round's
mask prunes `fraction` of what the trained `imp` model keeps (`magnitude_round`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from lowcap.data.tasks import TaskSplit
from lowcap.models.cohort import Cohort, Lane, ModelSpec
from lowcap.models.mlp import init_params
from lowcap.run.plan import ModelPlan
from lowcap.studies.pruning.methods import weight_names
from lowcap.training import EvalSet, evaluate, train_cohort

Params = dict[str, torch.Tensor]
TRAINED = ("imp", "reinit", "random_mask", "oneshot_finetune")
METHODS = (*TRAINED, "oneshot")


def kept_share(mask: Params) -> float:
    """The share of the weights (every matrix) a mask keeps."""
    kept = sum(float(m.sum()) for m in mask.values())
    return kept / sum(m.numel() for m in mask.values())


def random_mask_like(mask: Params, seed: int) -> Params:
    """A uniformly random mask keeping as many weights per layer as `mask` does."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, layer in mask.items():
        chosen = torch.randperm(layer.numel(), generator=gen)[: int(layer.sum())]
        flat = torch.zeros(layer.numel(), dtype=layer.dtype)
        flat[chosen] = 1
        out[name] = flat.reshape(layer.shape)
    return out


def oneshot_mask(trained: Params, like: Params, scope: str) -> Params:
    """The trained dense model's magnitude mask keeping as many weights as `like` does: in
    every weight matrix together (`scope` global) or in each one (layerwise)."""
    names = weight_names(trained)
    groups = [tuple(names)] if scope == "global" else [(k,) for k in names]
    out: Params = {}
    for layers in groups:
        scores = torch.cat([trained[k].reshape(-1).abs() for k in layers])
        kept = torch.zeros_like(scores)
        kept[torch.topk(scores, int(sum(float(like[k].sum()) for k in layers))).indices] = 1
        for name, part in zip(layers, kept.split([trained[k].numel() for k in layers]),
                              strict=True):
            out[name] = part.reshape(trained[name].shape)
    return out


@dataclass(frozen=True)
class Member:
    """One dense model of the study: its plan, trained weights, rewind point and IMP mask."""

    plan: ModelPlan
    trained: Params
    rewind: Params
    mask: Params


@dataclass
class RoundResult:
    """Per (member, method): best validation F1 over the round's evaluated epochs
    (`oneshot`: before training); and each member's trained `imp` weights, from which the next
    round's mask comes. Only validation is evaluated: it is most of a round's cost."""

    best_val_f1: dict[tuple[str, str], float]
    imp_trained: dict[str, Params]


def train_round(members: list[Member], split_of: Callable[[ModelPlan], TaskSplit], bank,
                scope: str, reinit_offset: int, evaluate_every: int = 1) -> RoundResult:
    """Train the four models of every member in one cohort (one lane per split), evaluating
    validation after every `evaluate_every`-th epoch and the last."""
    by_lane: dict[tuple, list[Member]] = {}
    for member in members:
        by_lane.setdefault(member.plan.lane_key(), []).append(member)
    lanes, params, masks, tags = [], [], [], []
    for group in by_lane.values():
        first = group[0].plan
        specs, lane_params, lane_masks, lane_tags = [], [], [], []
        for member in group:
            plan, mask = member.plan, member.mask
            fresh = init_params(plan.hidden, plan.seed + reinit_offset, plan.hp.init_spec,
                                bank.input_dim, pair=plan.pair, depth=plan.hp.depth)
            chosen = {"imp": (member.rewind, mask), "reinit": (fresh, mask),
                      # Seeded per model: successive rounds' random masks are nested.
                      "random_mask": (member.rewind,
                                      random_mask_like(mask, int(plan.model_id[:8], 16))),
                      "oneshot_finetune": (member.trained,
                                           oneshot_mask(member.trained, mask, scope))}
            for method in TRAINED:
                start, method_mask = chosen[method]
                specs.append(ModelSpec(plan.hidden, plan.lr, plan.seed, plan.hp.init_spec,
                                       plan.hp.optimiser_spec))
                lane_params.append(start)
                lane_masks.append(method_mask)
                lane_tags.append((plan.model_id, method))
        lanes.append(Lane(split_of(first), first.seed, tuple(specs), first.hp.augment))
        params.append(lane_params)
        masks.append(lane_masks)
        tags.append(lane_tags)
    hp = members[0].plan.hp
    cohort = Cohort(lanes, activation=hp.activation,  # type: ignore[arg-type]
                    device=bank.device, dtype=bank.images.dtype, params=params,
                    input_dim=bank.input_dim, depth=hp.depth)
    cohort.set_masks(masks)
    before = evaluate(cohort, EvalSet.of(cohort, bank, "val"))["f1"]
    best = torch.full((cohort.n_lanes, cohort.max_models), -1.0, dtype=torch.float64)

    def track(_, result) -> None:
        torch.maximum(best, torch.from_numpy(result.metrics["val_f1"]).nan_to_num(-1.0),
                      out=best)

    train_cohort(cohort, bank, hp.epochs, hp.batch_size, on_epoch=track,
                 precision=hp.matmul_precision, budget=hp.budget_batch_size,
                 evaluate_parts=("val",), evaluate_every=evaluate_every)
    result = RoundResult({}, {})
    for g, lane_tags in enumerate(tags):
        for i, (model_id, method) in enumerate(lane_tags):
            value = float(best[g, i])
            result.best_val_f1[(model_id, method)] = value if value >= 0 else float("nan")
            if method == "oneshot_finetune":
                result.best_val_f1[(model_id, "oneshot")] = float(before[g, i])
            if method == "imp":
                result.imp_trained[model_id] = cohort.model_params(g, i)
    return result
