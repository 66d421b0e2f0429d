"""Input–output sensitivity (Novak et al., ICLR 2018) for 784 → h → 1 MLPs.

- `ModelStack`: many models measured at once (the study's path).
- `jacobian_norm`: per-input Frobenius norm of ∂p/∂x, p = sigmoid output, in closed form:
  ∂p/∂x = σ(f)σ(−f) · W1ᵀ (w2 ⊙ act'(z)). Novak et al. take the norm of the softmax
  Jacobian; for two classes (p, 1 − p) that is √2 times this one (`NOVAK_SCALE`), the factor
  the report applies (the tests compare it with autograd: `tests/references.py`).
- `transitions`: changes of the hidden on/off pattern along a closed trajectory, counted per
  unit (each hyperplane crossed counts once), so the count converges as the trajectory is
  sampled more finely.
- `ellipse`: the paper's trajectory through three points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lowcap.models import forward as fw
from lowcap.models.mlp import Activation

Params = dict[str, torch.Tensor]
# ‖∂(p, 1 − p)/∂x‖_F = √2 ‖∂p/∂x‖_F: Novak et al.'s two-class softmax Jacobian norm.
NOVAK_SCALE = math.sqrt(2)


@dataclass(frozen=True)
class ModelStack:
    """Models of one activation side by side, so that each measurement of the study is one
    tensor program for all of them: hidden units concatenated (w1 [H, 784], b1 [H], w2 [H]),
    `unit_model` [H] naming each unit's model, b2 [M]; and `gram` [H, H], the block-diagonal
    W1 W1ᵀ of every model in float64.

    The Jacobian norm of model m is σ'(f)·‖Σ_{j∈m} a_j w1_j‖ with a_j = w2_j act'(z_j); its
    square is the quadratic form aᵀ G a over the model's own units, evaluated in float64, so
    that no model's N × 784 Jacobian is ever formed."""

    w1: torch.Tensor
    b1: torch.Tensor
    w2: torch.Tensor
    b2: torch.Tensor
    unit_model: torch.Tensor
    gram: torch.Tensor
    activation: Activation

    @classmethod
    def of(cls, params: list[Params], activation: Activation = "relu") -> ModelStack:
        """Stack models given as {w1, b1, w2, b2} (any widths, same device and dtype)."""
        w1 = torch.cat([p["w1"] for p in params])
        unit_model = torch.cat([torch.full((p["w1"].shape[0],), i, dtype=torch.long)
                                for i, p in enumerate(params)]).to(w1.device)
        same_model = unit_model[:, None] == unit_model[None, :]
        w1_64 = w1.double()
        return cls(w1, torch.cat([p["b1"] for p in params]),
                   torch.cat([p["w2"].reshape(-1) for p in params]),
                   torch.cat([p["b2"].reshape(-1) for p in params]), unit_model,
                   (w1_64 @ w1_64.T) * same_model, activation)

    @property
    def n_models(self) -> int:
        return self.b2.shape[0]

    def per_model(self, per_unit: torch.Tensor) -> torch.Tensor:
        """Sums over each model's units: [N, H] → [N, M]."""
        out = per_unit.new_zeros(per_unit.shape[0], self.n_models)
        return out.index_add_(1, self.unit_model, per_unit)

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        """z [N, H] of inputs x [N, 784]."""
        return torch.addmm(self.b1, x, self.w1.T)

    def _logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.per_model(fw.activate(z, self.activation) * self.w2) + self.b2

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [N, M] of every model."""
        return self._logits(self.pre_activations(x))

    @torch.no_grad()
    def logits_and_jacobian_norms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits [N, M] and ‖∂ sigmoid(f(x)) / ∂x‖_F [N, M] of every model, one forward
        pass."""
        z = self.pre_activations(x)
        logits = self._logits(z)
        a = (fw.activation_slope(z, self.activation) * self.w2).double()
        squared = self.per_model((a @ self.gram) * a).clamp_min(0)
        return logits, fw.sigmoid_slope(logits) * squared.sqrt().to(logits.dtype)

    @torch.no_grad()
    def switches(self, trajectory: torch.Tensor, every: int = 1) -> torch.Tensor:
        """[K', M]: each model's units switching on/off between consecutive points of a
        closed trajectory [K, 784] taken at every `every`-th point (K' = ⌈K / every⌉)."""
        pattern = self.pre_activations(trajectory[::every]) > 0
        return self.per_model(switches_per_unit(pattern).to(self.w1.dtype))


def logits_and_jacobian_norm(params: Params, x: torch.Tensor, activation: Activation = "relu"
                             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits [N] and ‖∂ sigmoid(f(x)) / ∂x‖_F [N] of one model for every row of x [N, 784]."""
    logits, norms = ModelStack.of([params], activation).logits_and_jacobian_norms(x)
    return logits[:, 0], norms[:, 0]


def jacobian_norm(params: Params, x: torch.Tensor, activation: Activation = "relu"
                  ) -> torch.Tensor:
    """‖∂ sigmoid(f(x)) / ∂x‖_F for every row of x [N, 784] → [N]."""
    return logits_and_jacobian_norm(params, x, activation)[1]


def ellipse(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, points: int = 2048
            ) -> torch.Tensor:
    """e(θ) = g + (a − g) cos θ + ((c − b)/√3) sin θ at `points` angles in [0, 2π); g the
    centroid of a, b, c. Passes through a at θ = 0."""
    g = (a + b + c) / 3
    theta = torch.arange(points, dtype=a.dtype, device=a.device) * (2 * math.pi / points)
    # (g + cos θ (a − g)) + sin θ (c − b)/√3, accumulated in place: two large temporaries
    # instead of four.
    trajectory = torch.outer(torch.cos(theta), a - g).add_(g)
    return trajectory.add_(torch.outer(torch.sin(theta), (c - b) / math.sqrt(3)))


@torch.no_grad()
def hidden_pattern(params: Params, trajectory: torch.Tensor) -> torch.Tensor:
    """Which hidden units are on (pre-activation > 0) at each point of `trajectory` [K, 784]."""
    return fw.pre_activations(params, trajectory) > 0


def switches_per_unit(pattern: torch.Tensor) -> torch.Tensor:
    """Bool [K, H]: unit switching on/off between row k and row k + 1 (the last row wrapping
    to the first) of a closed trajectory's hidden pattern [K, H]."""
    return torch.roll(pattern, -1, dims=0) != pattern


def switches(pattern: torch.Tensor) -> torch.Tensor:
    """Units switching on/off between row k and row k + 1 (the last row wrapping to the
    first) of a closed trajectory's hidden pattern [K, H] → [K]."""
    return switches_per_unit(pattern).sum(dim=1)


def count_transitions(pattern: torch.Tensor, closed: bool = True) -> int:
    """Units switching on/off between consecutive rows of a hidden pattern [K, H]."""
    if closed:
        return int(switches(pattern).sum())
    return int((pattern[1:] != pattern[:-1]).sum())


def near_data(points: int) -> torch.Tensor:
    """Bool [points]: the angles of an `ellipse` within π/6 of one of its three data points
    (θ = 0, 2π/3, 4π/3, where it passes through a, c and b): half of the trajectory, the
    other half lying between the data points (Novak et al. §4.1 compare the two). A step
    k → k + 1 counts at its midpoint."""
    theta = (torch.arange(points, dtype=torch.float64) + 0.5) * (2 * math.pi / points)
    offset = torch.remainder(theta, 2 * math.pi / 3)
    return torch.minimum(offset, 2 * math.pi / 3 - offset) < math.pi / 6


def transitions(params: Params, trajectory: torch.Tensor, closed: bool = True) -> int:
    """Hidden units switching on/off between consecutive points of `trajectory` [K, 784]."""
    return count_transitions(hidden_pattern(params, trajectory), closed)
