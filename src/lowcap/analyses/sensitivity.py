"""Input–output sensitivity (Novak et al., ICLR 2018) for 784 → h → 1 MLPs.

- `jacobian_norm`: per-input Frobenius norm of ∂p/∂x, p = sigmoid output, in closed form:
  ∂p/∂x = p(1 − p) · W1ᵀ (w2 ⊙ act'(z)). `jacobian_norm_autograd` computes the same for any
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

Params = dict[str, torch.Tensor]


def _pre(params: Params, x: torch.Tensor) -> torch.Tensor:
    return torch.addmm(params["b1"], x, params["w1"].T)


@torch.no_grad()
def logits_and_jacobian_norm(params: Params, x: torch.Tensor, activation: str = "relu"
                             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits [N] and ‖∂ sigmoid(f(x)) / ∂x‖_F [N] for every row of x [N, 784], from one
    forward pass."""
    z = _pre(params, x)
    w2 = params["w2"].reshape(-1)
    if activation == "relu":
        h, d_act = torch.relu(z), (z > 0).to(x.dtype)
    else:
        h = torch.tanh(z)
        d_act = 1 - h * h
    logits = h @ w2 + params["b2"]
    p = torch.sigmoid(logits)
    grad = (p * (1 - p)).unsqueeze(1) * ((d_act * w2) @ params["w1"])
    return logits, grad.norm(dim=1)


def jacobian_norm(params: Params, x: torch.Tensor, activation: str = "relu") -> torch.Tensor:
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
    return _pre(params, trajectory) > 0


def count_transitions(pattern: torch.Tensor, closed: bool = True) -> int:
    """Units switching on/off between consecutive rows of a hidden pattern [K, H]."""
    if closed:
        pattern = torch.cat([pattern, pattern[:1]])
    return int((pattern[1:] != pattern[:-1]).sum())


def transitions(params: Params, trajectory: torch.Tensor, closed: bool = True) -> int:
    """Hidden units switching on/off between consecutive points of `trajectory` [K, 784]."""
    return count_transitions(hidden_pattern(params, trajectory), closed)
