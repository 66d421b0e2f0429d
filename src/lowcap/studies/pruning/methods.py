"""One-shot pruning of trained models without retraining, for many models at once.

Models are grouped by shape (of any depth) and each group's weight matrices are stacked into
[K, L] matrices (`PackedWeights`), so thresholds, masks and achieved sparsities for a level
are computed for a whole group with one sort per layer, and magnitude methods sort once for
every level. Biases are never pruned.

Methods:
  layerwise  the paper's appendix C.1: in each weight matrix, k = int(s · size) entries with the
             smallest |w| are removed, with a `<=` threshold, so ties at the threshold are pruned
             too (the achieved sparsity is reported, and can exceed s).
  global     the same rule over every weight matrix of a model together.
  random     k = int(s · size) entries of each matrix chosen uniformly at random (seeded).
  layerwise_refscale  the paper's public code: layerwise with the fraction divided by 100
             (its "95%" removes 0.95% of the first layer and nothing of the second).
  layerwise_nearest  layerwise with k = round(s · size), as torch.nn.utils.prune's
             l1_unstructured counts (it can prune one weight more than int(): for the h-weight
             output layer that one weight can decide the model).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import torch

from lowcap.models.mlp import layer_count
from lowcap.ops import sort_rows

Params = dict[str, torch.Tensor]
METHODS = ("layerwise", "global", "random", "layerwise_refscale", "layerwise_nearest")


def weight_names(params: Params) -> list[str]:
    """A model's weight matrices, input first: w1 … w<layers> (the last the readout)."""
    return [f"w{k}" for k in range(1, layer_count(params) + 1)]


@dataclass
class PackedWeights:
    """Every weight matrix of K models of one shape, flattened: {w<k>: [K, L_k]}, input
    first (one hidden layer: w1 [K, 784·h], w2 [K, h])."""

    weights: dict[str, torch.Tensor]
    params: list[Params]
    # Sorted |w| rows per layer or "global": they do not depend on the level, so every level
    # reuses one sort.
    _sorted: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    @classmethod
    def pack(cls, params: list[Params]) -> PackedWeights:
        shapes = {tuple(p[name].shape for name in weight_names(p)) for p in params}
        if len(shapes) != 1:
            raise ValueError(f"PackedWeights needs models of one shape, got {sorted(shapes)}")
        return cls({name: torch.stack([p[name].reshape(-1) for p in params])
                    for name in weight_names(params[0])}, params)

    def magnitudes(self, layer: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(|w| [K, L], its rows sorted) of one layer ('w1', …) or 'global' (all side by side)."""
        if layer not in self._sorted:
            scores = (torch.cat(list(self.weights.values()), dim=1) if layer == "global"
                      else self.weights[layer]).abs()
            self._sorted[layer] = scores, sort_rows(scores)
        return self._sorted[layer]

    def prune(self, level: float, method: str = "layerwise", generator: torch.Generator | None
              = None) -> tuple[list[Params], torch.Tensor]:
        """Every model pruned at `level`, and the achieved sparsities [K]; `generator` draws
        the scores of the random method."""
        keep = prune_masks(self, level, method, generator)
        kept = {name: w * keep[name] for name, w in self.weights.items()}
        pruned = [{**p, **{name: w[i].view(p[name].shape) for name, w in kept.items()}}
                  for i, p in enumerate(self.params)]
        return pruned, _zero_fraction(list(kept.values()))


def _keep_smallest_out(scores: torch.Tensor, ordered: torch.Tensor, k: int) -> torch.Tensor:
    """Keep-mask [K, L]: prune entries with score <= the k-th smallest score of their row
    (`ordered` = the rows of `scores`, sorted)."""
    if k <= 0:
        return torch.ones_like(scores, dtype=torch.bool)
    return scores > ordered[:, k - 1:k]


def pruned_count(size: int, level: float, method: str) -> int:
    """How many of a matrix's `size` weights pruning at `level` removes: k = round(s·n) for
    `layerwise_nearest` (torch's l1_unstructured), k = int(s·n) otherwise."""
    return round(size * level) if method == "layerwise_nearest" else int(size * level)


def prune_masks(packed: PackedWeights, level: float, method: str,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Keep-masks {w<k>: [K, L_k]} of every model at sparsity `level`."""
    if method not in METHODS:
        raise ValueError(f"unknown pruning method {method!r}; choose from {METHODS}")
    if method == "layerwise_refscale":
        level = level / 100
    sizes = {name: w.shape[1] for name, w in packed.weights.items()}
    if method == "global":
        keep = _keep_smallest_out(*packed.magnitudes("global"), int(sum(sizes.values()) * level))
        return dict(zip(sizes, keep.split(list(sizes.values()), dim=1), strict=True))
    if method != "random":
        return {name: _keep_smallest_out(*packed.magnitudes(name),
                                         pruned_count(size, level, method))
                for name, size in sizes.items()}
    masks = {}
    for name, size in sizes.items():  # input layer first: one stream, in layer order
        scores = torch.rand(packed.weights[name].shape, generator=generator)
        scores = scores.to(packed.weights[name].device)
        masks[name] = _keep_smallest_out(scores, sort_rows(scores), int(size * level))
    return masks


def _zero_fraction(weights: list[torch.Tensor]) -> torch.Tensor:
    size = sum(w.shape[1] for w in weights)
    zeros = size - sum(torch.count_nonzero(w, dim=1) for w in weights)
    return zeros.double() / size


def achieved_sparsity(packed: PackedWeights, keep: dict[str, torch.Tensor]) -> torch.Tensor:
    """Fraction of weights (every matrix) that are zero after pruning, per model [K]."""
    return _zero_fraction([w * keep[name] for name, w in packed.weights.items()])


class Pruner:
    """Models of any shapes, packed once per shape, pruned at any level by any method."""

    def __init__(self, params: list[Params]):
        by_shape: dict[tuple, list[int]] = defaultdict(list)
        for i, p in enumerate(params):
            by_shape[tuple(tuple(p[name].shape) for name in weight_names(p))].append(i)
        self.count = len(params)
        self.groups = [(members, PackedWeights.pack([params[i] for i in members]))
                       for _, members in sorted(by_shape.items())]

    def prune(self, level: float, method: str = "layerwise", seed: int = 0
              ) -> tuple[list[Params], torch.Tensor]:
        """Every model pruned at `level` (in input order) and the achieved sparsities [K]. The
        random method draws from one generator seeded with `seed`, group by group."""
        generator = torch.Generator(device="cpu").manual_seed(seed)
        pruned: list[Params] = [{}] * self.count
        sparsity = torch.empty(self.count, dtype=torch.float64)
        for members, packed in self.groups:
            group, achieved = packed.prune(level, method, generator)
            for i, params in zip(members, group, strict=True):
                pruned[i] = params
            sparsity[members] = achieved.cpu()
        return pruned, sparsity


def prune(params: list[Params], level: float, method: str = "layerwise", seed: int = 0
          ) -> tuple[list[Params], torch.Tensor]:
    """Prune every model at `level`; returns the pruned params and the achieved sparsities."""
    return Pruner(params).prune(level, method, seed)


def magnitude_round(params: Params, mask: Params | None, fraction: float,
                    scope: str = "global") -> Params:
    """One round of iterative magnitude pruning (lottery tickets): remove `fraction` of the
    weights `mask` keeps (all of them when None), those of smallest |w|, and return the new
    mask {w1, w2, …} (1 keeps, 0 prunes). As torch.nn.utils.prune counts an amount, a round
    removes round(fraction · remaining) weights, over every matrix together (`scope` 'global',
    like `global_unstructured`) or in each layer (`layerwise`, like `l1_unstructured`);
    biases are never pruned."""
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction {fraction} must be in [0, 1)")
    if scope not in ("global", "layerwise"):
        raise ValueError(f"scope {scope!r}: use 'global' or 'layerwise'")
    names = weight_names(params)
    mask = mask or {k: torch.ones_like(params[k]) for k in names}
    groups = [tuple(names)] if scope == "global" else [(k,) for k in names]
    out = {}
    for layers in groups:
        scores = torch.cat([params[k].reshape(-1).abs() for k in layers])
        kept = torch.cat([mask[k].reshape(-1) for k in layers]).clone()
        remaining = torch.nonzero(kept == 1).squeeze(1)
        k = round(fraction * len(remaining))
        if k:
            smallest = torch.topk(scores[remaining], k, largest=False).indices
            kept[remaining[smallest]] = 0
        start = 0
        for name in layers:
            size = params[name].numel()
            out[name] = kept[start:start + size].reshape(params[name].shape)
            start += size
    return out
