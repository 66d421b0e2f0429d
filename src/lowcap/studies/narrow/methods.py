"""Narrow networks (companion paper B, Zhang et al. 2021): projected gradient methods vs SGD.

Model f(x) = Σ_j v_j σ(w_jᵀ x) with a smooth σ, no biases; the output weights v are fixed and
the first layer W is trained (our operationalisation, see docs/companions.md). The
mirrored initialisation duplicates half the units with v negated, so f ≡ 0 at the start.
All runs of one width (methods × radii × learning rates × seeds) train together: W is
[B, m, d].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

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
    grams = feature_gram(w, v, x, activation)
    if grams.device.type != "cpu":  # every Gram matrix at once, on the device
        return torch.linalg.eigvalsh(grams)[:, 0].clamp_min(0).sqrt().cpu()
    # Only the smallest eigenvalue: LAPACK's MRRR (syevr) with an index subset skips the rest,
    # about a third faster than all eigenvalues at n = 1000.
    smallest = [scipy.linalg.eigh(g, eigvals_only=True, subset_by_index=[0, 0], driver="evr")[0]
                for g in grams.numpy()]
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
    values = smallest_singular_value(torch.cat([w for w, _ in inits]).to(x.device),
                                     torch.cat([v for _, v in inits]).to(x.device), x,
                                     activation)
    return dict(zip(seeds, values.tolist(), strict=True))


def best_setting(final_loss: dict[tuple, np.ndarray]) -> tuple:
    """The setting (e.g. (radius, lr)) whose runs' mean final loss is lowest (NaN-tolerant;
    the first one on ties)."""
    means = {k: float(np.nanmean(v)) if np.isfinite(v).any() else np.inf
             for k, v in final_loss.items()}
    return min(means, key=means.__getitem__)


class Setting(NamedTuple):
    """One run: its method, radius (a multiple of ‖W0‖_F; unconstrained methods ignore it),
    learning rate and seed."""

    method: str
    radius: float
    lr: float
    seed: int

    @property
    def projected(self) -> bool:
        return self.method.startswith("projected")


def grid(methods: list[str], radii: list[float], lrs: list[float], adam_lrs: list[float],
         seeds: list[int]) -> list[Setting]:
    """Every (method, radius, lr, seed): radii for the projected methods only (0 elsewhere),
    `adam_lrs` for the Adam methods, `lrs` for the rest."""
    for method in methods:
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    return [Setting(method, radius, lr, seed) for method in methods
            for radius in (radii if method.startswith("projected") else [0.0])
            for lr in (adam_lrs if method.endswith("adam") else lrs) for seed in seeds]


@torch.no_grad()
def train(x: torch.Tensor, y: torch.Tensor, width: int, settings: list[Setting], steps: int,
          activation: str = "tanh", batch_size: int = 100, evals: int = 4
          ) -> tuple[NarrowRun, list[Setting]]:
    """Train one width for every setting at once, whatever its method; returns the curves and
    the setting of each row (full-batch runs first). Square loss ½·mean (f − y)². The
    stochastic runs share one mini-batch stream (seeded 12345), as each method alone would
    draw it."""
    runs = sorted(settings, key=lambda s: s.method != "projected_gd")  # stable
    if not runs or any(s.method not in METHODS for s in runs):
        raise ValueError(f"settings need methods from {METHODS}, got {settings!r}")
    n_full = sum(s.method == "projected_gd" for s in runs)
    n, dim = x.shape
    opts = {"device": x.device, "dtype": x.dtype}
    inits = {seed: mirrored_init(1, width, dim, seed, x.dtype) for seed in {s.seed for s in runs}}
    w = torch.cat([inits[s.seed][0] for s in runs]).to(**opts)
    v = torch.cat([inits[s.seed][1] for s in runs]).to(**opts)
    w0 = w.clone()
    radius = torch.tensor([s.radius if s.projected else math.inf for s in runs], **opts)
    radius = radius * w0.flatten(1).norm(dim=1)
    lr = torch.tensor([s.lr for s in runs], **opts)[:, None, None]
    adam = torch.tensor([s.method.endswith("adam") for s in runs], device=x.device)[:, None, None]
    m1, m2 = torch.zeros_like(w), torch.zeros_like(w)
    gen = torch.Generator().manual_seed(12345)
    batches = (torch.randint(0, n, (steps, batch_size), generator=gen).to(x.device)
               if n_full < len(runs) else None)
    eval_at = sorted({0, *np.linspace(0, steps, evals, dtype=int).tolist()})
    losses, snapshots = [], []
    for step in range(steps + 1):
        if step in eval_at:
            losses.append((0.5 * (forward(w, v, x, activation) - y) ** 2).mean(1))
            snapshots.append(w.clone())
        if step == steps:
            break
        grad = torch.empty_like(w)
        if n_full:
            grad[:n_full] = loss_gradient(w[:n_full], v[:n_full], x, y, activation)
        if batches is not None:
            idx = batches[step]
            grad[n_full:] = loss_gradient(w[n_full:], v[n_full:], x[idx], y[idx], activation)
        m1.mul_(0.9).add_(grad, alpha=0.1)
        m2.mul_(0.999).addcmul_(grad, grad, value=0.001)
        adam_update = (m1 / (1 - 0.9 ** (step + 1))) / (
            (m2 / (1 - 0.999 ** (step + 1))).sqrt() + 1e-8)
        w -= lr * torch.where(adam, adam_update, grad)
        w.copy_(project(w, w0, radius))
    return NarrowRun(eval_at, torch.stack(losses, 1).cpu().numpy(), snapshots, v), runs
