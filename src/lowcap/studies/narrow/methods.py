"""Narrow networks (companion paper B, Zhang et al. 2021): projected gradient methods vs SGD.

Model f(x) = Σ_j v_j σ(w_jᵀ x) with a smooth σ, no biases; the output weights v are fixed and
the first layer W is trained (our operationalisation, see docs/companions.md). The
mirrored initialisation duplicates half the units with v negated, so f ≡ 0 at the start.
Many runs (seeds × radii) of one width and method train together: W is [B, m, d].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F

# name → (σ, backward): backward(g, z, σ(z)) = g · σ'(z), in place on g where it can be
# (tanh's from the value in one fused kernel, without a second tanh).
ACTIVATIONS = {
    "tanh": (torch.tanh, lambda g, z, value: torch.ops.aten.tanh_backward(g, value)),
    "softplus": (F.softplus, lambda g, z, value: g.mul_(torch.sigmoid(z))),
    "gelu": (F.gelu, lambda g, z, value: g.mul_(
        0.5 * (1 + torch.erf(z / math.sqrt(2)))
        + z * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))),
}
METHODS = ("projected_gd", "projected_sgd", "projected_adam", "sgd", "adam")


def mirrored_init(batch: int, width: int, dim: int, seed: int, dtype=torch.float64
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """W [B, m, d] ~ N(0, 1/d) with units m/2.. copying units ..m/2, and v = ±1/√m, negated on
    the copies: f ≡ 0 at initialisation. `width` must be even."""
    if width % 2:
        raise ValueError(f"mirrored initialisation needs an even width, got {width}")
    gen = torch.Generator().manual_seed(seed)
    half = torch.randn(batch, width // 2, dim, generator=gen, dtype=dtype) / math.sqrt(dim)
    v_half = torch.where(torch.rand(batch, width // 2, generator=gen) < 0.5, -1.0, 1.0)
    v = torch.cat([v_half, -v_half], dim=1).to(dtype) / math.sqrt(width)
    return torch.cat([half, half], dim=1), v


def forward(w: torch.Tensor, v: torch.Tensor, x: torch.Tensor, activation: str) -> torch.Tensor:
    """f(x) [B, n] for every run: Σ_j v_j σ(w_jᵀ x)."""
    sigma, _ = ACTIVATIONS[activation]
    return torch.einsum("bnm,bm->bn", sigma(torch.einsum("bmd,nd->bnm", w, x)), v)


def _slope(z: torch.Tensor, activation: str) -> torch.Tensor:
    """σ'(z)."""
    sigma, backward = ACTIVATIONS[activation]
    return backward(torch.ones_like(z), z, sigma(z))


def loss_gradient(w: torch.Tensor, v: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                  activation: str) -> torch.Tensor:
    """∂/∂W [B, m, d] of each run's ½·mean_i (f(x_i) − y_i)², written out: about twice as fast
    as autograd here (no graph, no layout copies)."""
    sigma, backward = ACTIVATIONS[activation]
    z = torch.matmul(w, x.T)  # [B, m, n]
    value = sigma(z)
    residual = (torch.bmm(v.unsqueeze(1), value).squeeze(1) - y) / len(y)  # [B, n]
    d_z = backward(v.unsqueeze(2) * residual.unsqueeze(1), z, value)
    return torch.matmul(d_z, x)


def project(w: torch.Tensor, w0: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """Each run's W onto {‖W − W0‖_F ≤ R}: W0 + (W − W0)·min(1, R / ‖W − W0‖_F)."""
    delta = w - w0
    norm = delta.flatten(1).norm(dim=1).clamp_min(1e-30)
    scale = torch.clamp(radius / norm, max=1.0)
    return w0 + delta * scale[:, None, None]


def feature_gram(w: torch.Tensor, v: torch.Tensor, x: torch.Tensor, activation: str
                 ) -> torch.Tensor:
    """J Jᵀ [B, n, n] of the feature Jacobian J = ∂f(x_i)/∂W (n × md), without forming J:
    (J Jᵀ)_ik = (x_i · x_k) Σ_j v_j² σ'(w_j·x_i) σ'(w_j·x_k)."""
    d = _slope(torch.einsum("bmd,nd->bnm", w, x), activation) * v.unsqueeze(1).abs()
    return (x @ x.T).unsqueeze(0) * torch.bmm(d, d.transpose(1, 2))


def smallest_singular_value(w: torch.Tensor, v: torch.Tensor, x: torch.Tensor,
                            activation: str) -> torch.Tensor:
    """σ_min of the n × md feature Jacobian, per run [B] (0 when md < n)."""
    n, md = x.shape[0], w.shape[1] * w.shape[2]
    if md < n:
        return torch.zeros(w.shape[0], dtype=w.dtype)
    # Only the smallest eigenvalue: LAPACK's MRRR (syevr) with an index subset skips the rest,
    # about a third faster than all eigenvalues at n = 1000.
    grams = feature_gram(w, v, x, activation).cpu().numpy()
    smallest = [scipy.linalg.eigh(g, eigvals_only=True, subset_by_index=[0, 0], driver="evr")[0]
                for g in grams]
    return torch.tensor(smallest, dtype=w.dtype).clamp_min(0).sqrt()


def feature_jacobian(w: torch.Tensor, v: torch.Tensor, x: torch.Tensor, activation: str
                     ) -> torch.Tensor:
    """The explicit J [n, m·d] of one run (w [m, d], v [m]): for tests and small problems."""
    d = _slope(x @ w.T, activation) * v  # [n, m]
    return (d.unsqueeze(2) * x.unsqueeze(1)).reshape(x.shape[0], -1)


@dataclass
class NarrowRun:
    """A batch of B runs: the loss curve [B, T] at `steps`, and W [B, m, d] at each of them
    (so that σ_min is computed afterwards, only for the runs worth it), with v [B, m]."""

    steps: list[int]
    loss: np.ndarray
    weights: list[torch.Tensor]
    v: torch.Tensor

    def sigma_min(self, rows: list[int], x: torch.Tensor, activation: str, start: int = 0
                  ) -> np.ndarray:
        """σ_min of the feature Jacobian [len(rows), T − start] of the given runs along
        training, from snapshot `start` on."""
        return torch.stack([smallest_singular_value(w[rows], self.v[rows], x, activation)
                            for w in self.weights[start:]], 1).numpy()


def initial_sigma_min(width: int, seeds: list[int], x: torch.Tensor, activation: str
                      ) -> dict[int, float]:
    """σ_min at each seed's mirrored initialisation: step 0 of every method's runs."""
    inits = [mirrored_init(1, width, x.shape[1], seed, x.dtype) for seed in seeds]
    values = smallest_singular_value(torch.cat([w for w, _ in inits]),
                                     torch.cat([v for _, v in inits]), x, activation)
    return dict(zip(seeds, values.tolist(), strict=True))


def best_setting(final_loss: dict[tuple, np.ndarray]) -> tuple:
    """The setting (e.g. (radius, lr)) whose runs' mean final loss is lowest (NaN-tolerant;
    the first one on ties)."""
    means = {k: float(np.nanmean(v)) if np.isfinite(v).any() else np.inf
             for k, v in final_loss.items()}
    return min(means, key=means.__getitem__)


@torch.no_grad()
def train(x: torch.Tensor, y: torch.Tensor, width: int, method: str, radii: list[float],
          lrs: list[float], seeds: list[int], steps: int, activation: str = "tanh",
          batch_size: int = 100, evals: int = 4
          ) -> tuple[NarrowRun, list[tuple[float, float, int]]]:
    """Train one width with one method for every (radius, lr, seed) at once; returns curves and
    the (radius, lr, seed) of each row. Square loss ½·mean (f − y)². A radius is a multiple of
    ‖W0‖_F; unconstrained methods ignore it."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    runs = [(r, lr, s) for r in radii for lr in lrs for s in seeds]
    n, dim = x.shape
    inits = [mirrored_init(1, width, dim, s, x.dtype) for _, _, s in runs]
    w = torch.cat([i[0] for i in inits])
    v = torch.cat([i[1] for i in inits])
    w0 = w.clone()
    scale = w0.flatten(1).norm(dim=1)
    radius = torch.tensor([r if method.startswith("projected") else math.inf
                           for r, _, _ in runs], dtype=x.dtype) * scale
    lr = torch.tensor([rate for _, rate, _ in runs], dtype=x.dtype)[:, None, None]
    use_adam = method.endswith("adam")
    full_batch = method == "projected_gd"
    m1, m2 = torch.zeros_like(w), torch.zeros_like(w)
    gen = torch.Generator().manual_seed(12345)
    eval_at = sorted({0, *np.linspace(0, steps, evals, dtype=int).tolist()})
    losses, snapshots = [], []
    for step in range(steps + 1):
        if step in eval_at:
            losses.append((0.5 * (forward(w, v, x, activation) - y) ** 2).mean(1))
            snapshots.append(w.clone())
        if step == steps:
            break
        if full_batch:
            grad = loss_gradient(w, v, x, y, activation)
        else:
            idx = torch.randint(0, n, (batch_size,), generator=gen)
            grad = loss_gradient(w, v, x[idx], y[idx], activation)
        if use_adam:
            m1.mul_(0.9).add_(grad, alpha=0.1)
            m2.mul_(0.999).addcmul_(grad, grad, value=0.001)
            update = (m1 / (1 - 0.9 ** (step + 1))) / (
                (m2 / (1 - 0.999 ** (step + 1))).sqrt() + 1e-8)
        else:
            update = grad
        w -= lr * update
        w.copy_(project(w, w0, radius))
    return NarrowRun(eval_at, torch.stack(losses, 1).numpy(), snapshots, v), runs
