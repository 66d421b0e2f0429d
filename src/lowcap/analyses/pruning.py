"""One-shot pruning of trained models without retraining, for many models at once.

Layer weights of K models (any widths) are packed into padded [K, L] matrices; thresholds,
masks and achieved sparsities for a level are computed for all K models with one sort per
layer. Biases are never pruned.

Methods:
  layerwise  the paper's appendix C.1: in each weight matrix, k = int(s · size) entries with the
             smallest |w| are removed, with a `<=` threshold, so ties at the threshold are pruned
             too (the achieved sparsity is reported, and can exceed s).
  global     the same rule over both weight matrices of a model together.
  random     k = int(s · size) entries of each matrix chosen uniformly at random (seeded).
  layerwise_refscale  the paper's public code: layerwise with the fraction divided by 100
             (its "95%" removes 0.95% of the first layer and nothing of the second).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lowcap.ops import sort_rows

Params = dict[str, torch.Tensor]
METHODS = ("layerwise", "global", "random", "layerwise_refscale")


@dataclass
class PackedWeights:
    """Both weight matrices of K models, flattened and zero-padded: w1 [K, L1], w2 [K, L2]."""

    w1: torch.Tensor
    w2: torch.Tensor
    n1: torch.Tensor  # [K] real sizes
    n2: torch.Tensor
    params: list[Params]

    @classmethod
    def pack(cls, params: list[Params]) -> PackedWeights:
        def stack(name: str) -> tuple[torch.Tensor, torch.Tensor]:
            flat = [p[name].reshape(-1) for p in params]
            sizes = torch.tensor([len(f) for f in flat], device=flat[0].device)
            return torch.nn.utils.rnn.pad_sequence(flat, batch_first=True), sizes

        (w1, n1), (w2, n2) = stack("w1"), stack("w2")
        return cls(w1, w2, n1, n2, params)

    def valid(self, layer: str) -> torch.Tensor:
        """Bool [K, L]: which entries of the padded layer are real weights."""
        w, n = (self.w1, self.n1) if layer == "w1" else (self.w2, self.n2)
        return torch.arange(w.shape[1], device=w.device).unsqueeze(0) < n.unsqueeze(1)

    def unpack(self, keep1: torch.Tensor, keep2: torch.Tensor) -> list[Params]:
        """Each model's params with the masks applied (copies; biases unchanged)."""
        out = []
        for i, p in enumerate(self.params):
            pruned = dict(p)
            pruned["w1"] = p["w1"] * keep1[i, : p["w1"].numel()].reshape(p["w1"].shape)
            pruned["w2"] = p["w2"] * keep2[i, : p["w2"].numel()].reshape(p["w2"].shape)
            out.append(pruned)
        return out


def _prune_smallest(scores: torch.Tensor, valid: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Keep-mask [K, L]: prune entries with score <= the k-th smallest score of their row."""
    padded = torch.where(valid, scores, torch.full_like(scores, float("inf")))
    ordered = sort_rows(padded)
    threshold = ordered.gather(1, (k - 1).clamp_min(0).unsqueeze(1))
    threshold = torch.where(k.unsqueeze(1) > 0, threshold, torch.full_like(threshold, -1.0))
    return (padded > threshold) | ~valid


def prune_masks(packed: PackedWeights, level: float, method: str, seed: int = 0
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep-masks (w1 [K, L1], w2 [K, L2]) of every model at sparsity `level`."""
    if method not in METHODS:
        raise ValueError(f"unknown pruning method {method!r}; choose from {METHODS}")
    if method == "layerwise_refscale":
        level = level / 100
    v1, v2 = packed.valid("w1"), packed.valid("w2")
    if method == "global":
        scores = torch.cat([packed.w1.abs(), packed.w2.abs()], dim=1)
        valid = torch.cat([v1, v2], dim=1)
        k = ((packed.n1 + packed.n2).double() * level).long()
        keep = _prune_smallest(scores, valid, k)
        return keep[:, : v1.shape[1]], keep[:, v1.shape[1]:]
    if method == "random":
        gen = torch.Generator(device="cpu").manual_seed(seed)
        s1 = torch.rand(v1.shape, generator=gen).to(v1.device)
        s2 = torch.rand(v2.shape, generator=gen).to(v2.device)
    else:
        s1, s2 = packed.w1.abs(), packed.w2.abs()
    k1 = (packed.n1.double() * level).long()
    k2 = (packed.n2.double() * level).long()
    return _prune_smallest(s1, v1, k1), _prune_smallest(s2, v2, k2)


def achieved_sparsity(packed: PackedWeights, keep1: torch.Tensor, keep2: torch.Tensor
                      ) -> torch.Tensor:
    """Fraction of weights (both matrices) that are zero after pruning, per model [K]."""
    zero1 = ((~keep1 | (packed.w1 == 0)) & packed.valid("w1")).sum(1)
    zero2 = ((~keep2 | (packed.w2 == 0)) & packed.valid("w2")).sum(1)
    return (zero1 + zero2).double() / (packed.n1 + packed.n2).double()


def prune(params: list[Params], level: float, method: str = "layerwise", seed: int = 0
          ) -> tuple[list[Params], torch.Tensor]:
    """Prune every model at `level`; returns the pruned params and the achieved sparsities."""
    packed = PackedWeights.pack(params)
    keep1, keep2 = prune_masks(packed, level, method, seed)
    return packed.unpack(keep1, keep2), achieved_sparsity(packed, keep1, keep2)
