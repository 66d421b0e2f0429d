"""Sensitivity measurements of MLPs of any depth: models of one shape (depth, width) stacked
along a model dimension, so that every measurement is one tensor program for all of them.

The input–output Jacobian of model m at x is the chain W1ᵀ D1 W2ᵀ D2 … w_outᵀ (D_k the
activation slopes of layer k); its Frobenius norm times σ'(f) is the norm of ∂p/∂x for the
output probability p = σ(f). The chain is carried back to the first hidden layer as a vector
v [h] per (input, model), and ‖v W1‖² = v (W1 W1ᵀ) vᵀ is evaluated in float64 from the
model's Gram matrix, so no N × d Jacobian is formed. Transitions count every hidden unit of
every layer switching on/off along a trajectory (Novak et al. count the whole network's
activation pattern). One hidden layer gives exactly `ModelStack`'s numbers (tested).

Models of one depth but different widths are padded to the widest with units whose weights
and bias are 0: such a unit is 0 everywhere, adds nothing to a logit or a Jacobian, and never
switches (its pre-activation is 0, never > 0), so every measurement is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lowcap.models import forward as fw
from lowcap.models.mlp import Activation, layer_count
from lowcap.studies.sensitivity.jacobian import switches_per_unit

Params = dict[str, torch.Tensor]


@dataclass(frozen=True)
class DeepStack:
    """Models of one depth (padded to one width): per layer, weights [M, out, in] and biases
    [M, out] (the last layer the readout, out = 1), and the Gram matrices W1 W1ᵀ [M, h, h] in
    float64."""

    weights: list[torch.Tensor]
    biases: list[torch.Tensor]
    gram: torch.Tensor
    activation: Activation

    @classmethod
    def of(cls, params: list[Params], activation: Activation = "relu") -> DeepStack:
        """Stack models given as numbered layers {w1, b1, …} of one depth (any widths)."""
        layers = layer_count(params[0])
        if any(layer_count(p) != layers for p in params):
            raise ValueError("a DeepStack holds models of one depth, got "
                             f"{sorted({layer_count(p) - 1 for p in params})} hidden layers")
        width = max(p["w1"].shape[0] for p in params)

        def padded(tensor: torch.Tensor, k: int) -> torch.Tensor:
            """Layer k's weights [out, in] or bias [out] padded with zeros to `width` units."""
            rows = (1 if k == layers else width) - tensor.shape[0]
            cols = 0 if tensor.ndim == 1 or k == 1 else width - tensor.shape[1]
            return torch.nn.functional.pad(tensor, (0, cols, 0, rows) if tensor.ndim == 2
                                           else (0, rows))

        weights = [torch.stack([padded(p[f"w{k}"].reshape(-1, p[f"w{k}"].shape[-1]), k)
                                for p in params]) for k in range(1, layers + 1)]
        biases = [torch.stack([padded(p[f"b{k}"].reshape(-1), k) for p in params])
                  for k in range(1, layers + 1)]
        first = weights[0].double()
        return cls(weights, biases, first @ first.transpose(1, 2), activation)

    @property
    def n_models(self) -> int:
        return self.weights[0].shape[0]

    def _pre_activations(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Every hidden layer's pre-activations [N, M, h] and the logits [N, M] of x [N, d]."""
        z = torch.einsum("nd,mhd->nmh", x, self.weights[0]) + self.biases[0]
        pre = [z]
        for w, b in zip(self.weights[1:-1], self.biases[1:-1], strict=True):
            z = torch.einsum("nmh,mkh->nmk", fw.activate(z, self.activation), w) + b
            pre.append(z)
        logits = torch.einsum("nmh,mh->nm", fw.activate(z, self.activation),
                              self.weights[-1][:, 0]) + self.biases[-1][:, 0]
        return pre, logits

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [N, M] of every model."""
        return self._pre_activations(x)[1]

    @torch.no_grad()
    def logits_and_jacobian_norms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits [N, M] and ‖∂ sigmoid(f(x)) / ∂x‖_F [N, M] of every model."""
        pre, logits = self._pre_activations(x)
        v = fw.activation_slope(pre[-1], self.activation) * self.weights[-1][:, 0]
        for k in range(len(pre) - 1, 0, -1):  # through hidden-to-hidden layer k (weights[k])
            v = torch.einsum("nmk,mkh->nmh", v, self.weights[k])
            v = v * fw.activation_slope(pre[k - 1], self.activation)
        v = v.double()
        squared = torch.einsum("nmh,mhk,nmk->nm", v, self.gram, v).clamp_min(0)
        return logits, fw.sigmoid_slope(logits) * squared.sqrt().to(logits.dtype)

    @torch.no_grad()
    def switches(self, trajectory: torch.Tensor, every: int = 1) -> torch.Tensor:
        """[K', M]: each model's hidden units (all layers) switching on/off between consecutive
        points of a closed trajectory [K, d] taken at every `every`-th point."""
        pre, _ = self._pre_activations(trajectory[::every])
        pattern = torch.cat([z > 0 for z in pre], dim=2)  # [K', M, layers · h]
        return switches_per_unit(pattern).sum(2).to(self.weights[0].dtype)
