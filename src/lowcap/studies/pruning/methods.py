"""One-shot pruning of trained models without retraining, for many models at once.

Models are grouped by shape and each group's weight matrices are stacked into [K, L] matrices
(`PackedWeights`), so thresholds, masks and achieved sparsities for a level are computed for a
whole group with one sort per layer, and magnitude methods sort once for every level. Biases
are never pruned.

Methods:
  layerwise  the paper's appendix C.1: in each weight matrix, k = int(s · size) entries with the
             smallest |w| are removed, with a `<=` threshold, so ties at the threshold are pruned
             too (the achieved sparsity is reported, and can exceed s).
  global     the same rule over both weight matrices of a model together.
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

from lowcap.ops import sort_rows

Params = dict[str, torch.Tensor]
METHODS = ("layerwise", "global", "random", "layerwise_refscale", "layerwise_nearest")


@dataclass
class PackedWeights:
    """Both weight matrices of K models of one shape, flattened: w1 [K, L1], w2 [K, L2]."""

    w1: torch.Tensor
    w2: torch.Tensor
    params: list[Params]
    # Sorted |w| rows per layer or "global": they do not depend on the level, so every level
    # reuses one sort.
    _sorted: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    @classmethod
    def pack(cls, params: list[Params]) -> PackedWeights:
        shapes = {(p["w1"].shape, p["w2"].shape) for p in params}
        if len(shapes) != 1:
            raise ValueError(f"PackedWeights needs models of one shape, got {sorted(shapes)}")
        return cls(torch.stack([p["w1"].reshape(-1) for p in params]),
                   torch.stack([p["w2"].reshape(-1) for p in params]), params)

    def magnitudes(self, layer: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(|w| [K, L], its rows sorted) of 'w1', 'w2' or 'global' (both side by side)."""
        if layer not in self._sorted:
            scores = (torch.cat([self.w1, self.w2], dim=1) if layer == "global"
                      else getattr(self, layer)).abs()
            self._sorted[layer] = scores, sort_rows(scores)
        return self._sorted[layer]

    def prune(self, level: float, method: str = "layerwise", generator: torch.Generator | None
              = None) -> tuple[list[Params], torch.Tensor]:
        """Every model pruned at `level`, and the achieved sparsities [K]; `generator` draws
        the scores of the random method."""
        keep1, keep2 = prune_masks(self, level, method, generator)
        w1, w2 = self.w1 * keep1, self.w2 * keep2
        pruned = [{**p, "w1": w1[i].view(p["w1"].shape), "w2": w2[i].view(p["w2"].shape)}
                  for i, p in enumerate(self.params)]
        return pruned, _zero_fraction(w1, w2)


def _keep_smallest_out(scores: torch.Tensor, ordered: torch.Tensor, k: int) -> torch.Tensor:
    """Keep-mask [K, L]: prune entries with score <= the k-th smallest score of their row
    (`ordered` = the rows of `scores`, sorted)."""
    if k <= 0:
        return torch.ones_like(scores, dtype=torch.bool)
    return scores > ordered[:, k - 1:k]


def prune_masks(packed: PackedWeights, level: float, method: str,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep-masks (w1 [K, L1], w2 [K, L2]) of every model at sparsity `level`."""
    if method not in METHODS:
        raise ValueError(f"unknown pruning method {method!r}; choose from {METHODS}")
    if method == "layerwise_refscale":
        level = level / 100
    count = round if method == "layerwise_nearest" else int
    l1, l2 = packed.w1.shape[1], packed.w2.shape[1]
    if method == "global":
        keep = _keep_smallest_out(*packed.magnitudes("global"), int((l1 + l2) * level))
        return keep[:, :l1], keep[:, l1:]
    if method != "random":
        return (_keep_smallest_out(*packed.magnitudes("w1"), count(l1 * level)),
                _keep_smallest_out(*packed.magnitudes("w2"), count(l2 * level)))
    masks = []
    for layer, size in (("w1", l1), ("w2", l2)):
        scores = torch.rand(getattr(packed, layer).shape, generator=generator)
        scores = scores.to(packed.w1.device)
        masks.append(_keep_smallest_out(scores, sort_rows(scores), int(size * level)))
    return masks[0], masks[1]


def _zero_fraction(w1: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
    size = w1.shape[1] + w2.shape[1]
    zeros = size - torch.count_nonzero(w1, dim=1) - torch.count_nonzero(w2, dim=1)
    return zeros.double() / size


def achieved_sparsity(packed: PackedWeights, keep1: torch.Tensor, keep2: torch.Tensor
                      ) -> torch.Tensor:
    """Fraction of weights (both matrices) that are zero after pruning, per model [K]."""
    return _zero_fraction(packed.w1 * keep1, packed.w2 * keep2)


class Pruner:
    """Models of any shapes, packed once per shape, pruned at any level by any method."""

    def __init__(self, params: list[Params]):
        by_shape: dict[tuple, list[int]] = defaultdict(list)
        for i, p in enumerate(params):
            by_shape[(tuple(p["w1"].shape), tuple(p["w2"].shape))].append(i)
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
    mask {w1, w2} (1 keeps, 0 prunes). As torch.nn.utils.prune counts an amount, a round
    removes round(fraction · remaining) weights, over w1 and w2 together (`scope` 'global',
    like `global_unstructured`) or in each layer (`layerwise`, like `l1_unstructured`);
    biases are never pruned."""
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction {fraction} must be in [0, 1)")
    if scope not in ("global", "layerwise"):
        raise ValueError(f"scope {scope!r}: use 'global' or 'layerwise'")
    mask = mask or {k: torch.ones_like(params[k]) for k in ("w1", "w2")}
    groups = [("w1", "w2")] if scope == "global" else [("w1",), ("w2",)]
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
