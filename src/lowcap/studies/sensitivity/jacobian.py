"""Input–output sensitivity (Novak et al., ICLR 2018) for 784 → h → 1 MLPs.

- `jacobian_norm`: per-input Frobenius norm of ∂p/∂x, p = sigmoid output, in closed form:
  ∂p/∂x = σ(f)σ(−f) · W1ᵀ (w2 ⊙ act'(z)). Novak et al. take the norm of the softmax
  Jacobian; for two classes (p, 1 − p) that is √2 times this one (`NOVAK_SCALE`), the factor
  the report applies. `jacobian_norm_autograd` computes the same for any
  nn.Module with torch.func (softmax for multi-class outputs) and is the tests' reference.
- `transitions`: changes of the hidden on/off pattern along a closed trajectory, counted per
  unit (each hyperplane crossed counts once), so the count converges as the trajectory is
  sampled more finely.
- `ellipse`: the paper's trajectory through three points.
"""

from __future__ import annotations

import math

import torch
from torch.func import jacrev, vmap

from lowcap.models import forward as fw
from lowcap.models.mlp import Activation

Params = dict[str, torch.Tensor]
# ‖∂(p, 1 − p)/∂x‖_F = √2 ‖∂p/∂x‖_F: Novak et al.'s two-class softmax Jacobian norm.
NOVAK_SCALE = math.sqrt(2)


@torch.no_grad()
def logits_and_jacobian_norm(params: Params, x: torch.Tensor, activation: Activation = "relu"
                             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits [N] and ‖∂ sigmoid(f(x)) / ∂x‖_F [N] for every row of x [N, 784], from one
    forward pass."""
    z = fw.pre_activations(params, x)
    logits = fw.readout(params, fw.activate(z, activation))
    d_hidden = fw.activation_slope(z, activation) * params["w2"].reshape(-1)
    grad = fw.sigmoid_slope(logits).unsqueeze(1) * (d_hidden @ params["w1"])
    return logits, grad.norm(dim=1)


def jacobian_norm(params: Params, x: torch.Tensor, activation: Activation = "relu"
                  ) -> torch.Tensor:
    """‖∂ sigmoid(f(x)) / ∂x‖_F for every row of x [N, 784] → [N]."""
    return logits_and_jacobian_norm(params, x, activation)[1]


def jacobian_norm_autograd(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The same norm for any model, via vmap(jacrev): sigmoid for one output, softmax else."""
    def probs(v: torch.Tensor) -> torch.Tensor:
        out = model(v.unsqueeze(0)).squeeze(0)
        return torch.sigmoid(out) if out.numel() == 1 else torch.softmax(out, dim=-1)

    jac = vmap(jacrev(probs))(x)  # [N, outputs, 784]
    return jac.reshape(x.shape[0], -1).norm(dim=1)


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


def switches(pattern: torch.Tensor) -> torch.Tensor:
    """Units switching on/off between row k and row k + 1 (the last row wrapping to the
    first) of a closed trajectory's hidden pattern [K, H] → [K]."""
    return (torch.roll(pattern, -1, dims=0) != pattern).sum(dim=1)


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
