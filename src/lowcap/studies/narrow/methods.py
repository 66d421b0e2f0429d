"""Narrow networks (companion paper B, Zhang et al. 2021): projected gradient methods vs SGD.

Model f(x) = Σ_j v_j σ(w_jᵀ x) with a smooth σ, no biases; the output weights v are fixed and
the first layer W is trained (lowcap's operationalisation, see docs/companions.md). Two
starts: *LeCun* (W ~ N(0, 1/d), v = ±1/√m: the ordinary initialisation, SGD's baseline) and
*mirrored* (the second half of the units copies the first with v negated, so f ≡ 0). Every
run of one width (methods × starts × radii × learning rates × seeds) trains together:
W is [B, m, d].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F


def tanh(z: torch.Tensor) -> torch.Tensor:
    """tanh(z) as 2·sigmoid(2z) − 1, within 2 float eps of torch.tanh (absolute). On a CPU
    torch.tanh's vectorised kernel is several times slower than sigmoid's, and tanh took up
    to a third of a width's training (`benchmarks/bench_narrow.py` measures both)."""
    value = torch.sigmoid(2 * z)
    if value.requires_grad:  # autograd keeps sigmoid's output: the same arithmetic, not in place
        return 2 * value - 1
    return value.mul_(2).sub_(1)


# name → (σ, backward): backward(g, z, σ(z)) = g · σ'(z), in place on g where it can be
# (tanh's from the value in one fused kernel, without a second tanh).
ACTIVATIONS = {
    "tanh": (tanh, lambda g, z, value: torch.ops.aten.tanh_backward(g, value)),
    "softplus": (F.softplus, lambda g, z, value: g.mul_(torch.sigmoid(z))),
    "gelu": (F.gelu, lambda g, z, value: g.mul_(
        0.5 * (1 + torch.erf(z / math.sqrt(2)))
        + z * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))),
}
# Optimisers, each plain or projected; full batch ('gd') or mini-batches (the rest).
METHODS = ("sgd", "projected_sgd", "gd", "projected_gd", "adam", "projected_adam")
STARTS = ("lecun", "mirrored")


def lecun_init(batch: int, width: int, dim: int, seed: int, dtype=torch.float64
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """W [B, m, d] ~ N(0, 1/d) (LeCun's scale: unit-variance pre-activations for inputs of
    norm √d) and v = ±1/√m with random signs."""
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(batch, width, dim, generator=gen, dtype=dtype) / math.sqrt(dim)
    v = torch.where(torch.rand(batch, width, generator=gen) < 0.5, -1.0, 1.0)
    return w, v.to(dtype) / math.sqrt(width)


def mirrored_init(batch: int, width: int, dim: int, seed: int, dtype=torch.float64
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """The LeCun draw of the first m/2 units, copied into the rest with v negated: f ≡ 0 at
    initialisation. `width` must be even."""
    if width % 2:
        raise ValueError(f"mirrored initialisation needs an even width, got {width}")
    half, v_half = lecun_init(batch, width // 2, dim, seed, dtype)
    v_half = v_half * math.sqrt(width // 2) / math.sqrt(width)
    return torch.cat([half, half], dim=1), torch.cat([v_half, -v_half], dim=1)


INITS = {"lecun": lecun_init, "mirrored": mirrored_init}


# Runs per piece of work such that a [runs, m, n] temporary holds at most this many elements
# (8 MB in float32): glibc hands freed blocks over 32 MB back to the OS (lowcap.training.malloc)
# and faulting them in again cost more than the arithmetic: the whole training set's forward
# pass of 200 runs took 2.5× as long in one piece (benchmarks/bench_narrow.py).
PIECE_ELEMENTS = 2**21


def _pieces(w: torch.Tensor, n: int) -> list[slice]:
    """Slices of the runs of w [B, m, d], each piece's [runs, m, n] temporaries bounded."""
    step = max(1, PIECE_ELEMENTS // (w.shape[1] * n))
    return [slice(i, i + step) for i in range(0, w.shape[0], step)]


def forward(w: torch.Tensor, v: torch.Tensor, x: torch.Tensor, activation: str) -> torch.Tensor:
    """f(x) [B, n] for every run: Σ_j v_j σ(w_jᵀ x)."""
    sigma, _ = ACTIVATIONS[activation]
    return torch.cat([_readout(v[part], sigma(_preactivations(w[part], x)))
                      for part in _pieces(w, x.shape[0])])


def _preactivations(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """z [B, m, n] = W xᵀ per run; for a shared x [n, d] one GEMM over all B·m units."""
    return torch.matmul(w, x.transpose(-1, -2))


def _readout(v: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """f [B, n] = Σ_j v_j σ_jn per run."""
    return torch.bmm(v.unsqueeze(1), value).squeeze(1)


def _slope(z: torch.Tensor, activation: str) -> torch.Tensor:
    """σ'(z)."""
    sigma, backward = ACTIVATIONS[activation]
    return backward(torch.ones_like(z), z, sigma(z))


def loss_gradient(w: torch.Tensor, v: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                  activation: str) -> torch.Tensor:
    """∂/∂W [B, m, d] of each run's ½·mean_i (f(x_i) − y_i)², written out: about twice as fast
    as autograd here (no graph, no layout copies). `x` [n, d] and `y` [n] are shared."""
    sigma, backward = ACTIVATIONS[activation]
    grads = []
    for part in _pieces(w, x.shape[0]):
        z = _preactivations(w[part], x)
        value = sigma(z)
        residual = (_readout(v[part], value) - y) / y.shape[-1]  # [runs, n]
        d_z = backward(v[part].unsqueeze(2) * residual.unsqueeze(1), z, value)
        grads.append(torch.matmul(d_z, x))
    return torch.cat(grads)


def project(w: torch.Tensor, w0: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """Each run's W onto {‖W − W0‖_F ≤ R}, its nearest point there: W0 + (W − W0)·min(1,
    R / ‖W − W0‖_F) (R = ∞: unchanged)."""
    delta = w - w0
    norm = delta.flatten(1).norm(dim=1).clamp_min(1e-30)
    scale = torch.clamp(radius / norm, max=1.0)
    return w0 + delta * scale[:, None, None]


def feature_gram(w: torch.Tensor, v: torch.Tensor, x: torch.Tensor, activation: str
                 ) -> torch.Tensor:
    """J Jᵀ [B, n, n] of the feature Jacobian J = ∂f(x_i)/∂W (n × md), without forming J:
    (J Jᵀ)_ik = (x_i · x_k) Σ_j v_j² σ'(w_j·x_i) σ'(w_j·x_k)."""
    d = _slope(_preactivations(w, x).transpose(1, 2), activation) * v.unsqueeze(1).abs()
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


class Setting(NamedTuple):
    """One run: its method, start, radius (a multiple of ‖W0‖_F; unconstrained methods
    ignore it), learning rate and seed."""

    method: str
    start: str
    radius: float
    lr: float
    seed: int

    @property
    def projected(self) -> bool:
        return self.method.startswith("projected")

    @property
    def full_batch(self) -> bool:
        return self.method in ("gd", "projected_gd")

    @property
    def arm(self) -> str:
        """Method and start: what a comparison pairs ('projected_sgd@mirrored')."""
        return f"{self.method}@{self.start}"


def grid(arms: list[tuple[str, str]], radii: list[float], lrs: list[float],
         adam_lrs: list[float], seeds: list[int]) -> list[Setting]:
    """Every (method, start) arm × radius × lr × seed: radii for the projected methods only (0
    elsewhere), `adam_lrs` for the Adam methods, `lrs` for the rest. Every arm gets the same
    learning rates, seeds and step budget as its plain or projected twin."""
    for method, start in arms:
        if method not in METHODS or start not in STARTS:
            raise ValueError(f"unknown arm {method}@{start}; methods {METHODS}, starts {STARTS}")
    return [Setting(method, start, radius, lr, seed) for method, start in arms
            for radius in (radii if method.startswith("projected") else [0.0])
            for lr in (adam_lrs if method.endswith("adam") else lrs) for seed in seeds]


@dataclass
class NarrowRun:
    """A batch of B runs: the loss curve [B, T] at `steps`, their first layers at the start and
    the end, the output weights, and each projected run's radius in weight units (∞ for the
    others)."""

    steps: list[int]
    loss: np.ndarray
    w0: torch.Tensor
    w: torch.Tensor
    v: torch.Tensor
    radius: torch.Tensor

    def travelled(self) -> np.ndarray:
        """‖W − W0‖_F at the end, per run."""
        return (self.w - self.w0).flatten(1).norm(dim=1).cpu().numpy()

    def on_boundary(self) -> np.ndarray:
        """Whether each run ends on its ball's boundary (the constraint active); False for
        the unconstrained ones."""
        return self.travelled() >= (1 - 1e-6) * self.radius.cpu().numpy()


def _starts(settings: list[Setting], width: int, dim: int, dtype: torch.dtype
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Each setting's initial W and v (one draw per (start, seed), shared by its runs)."""
    draws = {(s.start, s.seed): INITS[s.start](1, width, dim, s.seed, dtype) for s in settings}
    return (torch.cat([draws[(s.start, s.seed)][0] for s in settings]),
            torch.cat([draws[(s.start, s.seed)][1] for s in settings]))


@torch.no_grad()
def train(x: torch.Tensor, y: torch.Tensor, width: int, settings: list[Setting], steps: int,
          activation: str = "tanh", batch_size: int = 100, evals: int = 21
          ) -> tuple[NarrowRun, list[Setting]]:
    """Train one width for every setting at once, whatever its method and start; returns the
    curves and the setting of each row (full-batch runs first). Square loss ½·mean (f − y)²,
    evaluated on the whole training set at `evals` evenly spaced steps. The mini-batch runs
    share one batch stream (seeded 12345), as each would draw it alone, so a plain and a
    projected twin see the same batches. Every run sees the same number of examples, `steps`
    batches of `batch_size`: a full-batch run updates once per n examples (`full_batch_every`
    steps), so GD and SGD spend the same gradient work."""
    # Full-batch runs first, Adam runs last (stable): the moments are kept for those alone.
    runs = sorted(settings, key=lambda s: (not s.full_batch, s.method.endswith("adam")))
    if not runs or any(s.method not in METHODS or s.start not in STARTS for s in runs):
        raise ValueError(f"settings need methods from {METHODS} and starts from {STARTS}, "
                         f"got {settings!r}")
    n_full = sum(s.full_batch for s in runs)
    n, dim = x.shape
    opts = {"device": x.device, "dtype": x.dtype}
    w, v = (t.to(**opts) for t in _starts(runs, width, dim, x.dtype))
    w0 = w.clone()
    radius = torch.tensor([s.radius if s.projected else math.inf for s in runs], **opts)
    radius = radius * w0.flatten(1).norm(dim=1)
    lr = torch.tensor([s.lr for s in runs], **opts)[:, None, None]
    first_adam = len(runs) - sum(s.method.endswith("adam") for s in runs[n_full:])
    m1, m2 = torch.zeros_like(w[first_adam:]), torch.zeros_like(w[first_adam:])
    gen = torch.Generator().manual_seed(12345)
    batches = (torch.randint(0, n, (steps, batch_size), generator=gen).to(x.device)
               if n_full < len(runs) else None)
    eval_at = sorted({0, *np.linspace(0, steps, evals, dtype=int).tolist()})
    every = full_batch_every(n, batch_size)
    losses = []
    for step in range(steps + 1):
        if step in eval_at:
            losses.append((0.5 * (forward(w, v, x, activation) - y) ** 2).mean(1))
        if step == steps:
            break
        if n_full and step % every == 0:
            grad = loss_gradient(w[:n_full], v[:n_full], x, y, activation)
            w[:n_full] -= lr[:n_full] * grad
            w[:n_full] = project(w[:n_full], w0[:n_full], radius[:n_full])
        if batches is None:
            continue
        idx = batches[step]
        update = loss_gradient(w[n_full:], v[n_full:], x[idx], y[idx], activation)
        if len(m1):  # the Adam runs' gradients become their Adam steps, in place
            grad = update[first_adam - n_full:]
            m1.mul_(0.9).add_(grad, alpha=0.1)
            m2.mul_(0.999).addcmul_(grad, grad, value=0.001)
            torch.div(m1 / (1 - 0.9 ** (step + 1)),
                      (m2 / (1 - 0.999 ** (step + 1))).sqrt() + 1e-8, out=grad)
        w[n_full:] -= lr[n_full:] * update
        w[n_full:] = project(w[n_full:], w0[n_full:], radius[n_full:])
    return NarrowRun(eval_at, torch.stack(losses, 1).cpu().numpy(), w0, w, v, radius), runs


def full_batch_every(n: int, batch_size: int) -> int:
    """Mini-batch steps per full-batch update: a full batch holds that many batches' worth
    of examples (at least one)."""
    return max(1, round(n / batch_size))


def best_setting(final_loss: dict[tuple, np.ndarray]) -> tuple:
    """The setting (e.g. (radius, lr)) whose runs' mean final loss is lowest (NaN-tolerant)."""
    means = {k: float(np.nanmean(v)) if np.isfinite(v).any() else np.inf
             for k, v in final_loss.items()}
    # Ties (radii a run never reaches give the same run) go to the first in sorted order: the
    # smallest such radius, whatever order the settings came in.
    return min(sorted(means, key=_sortable), key=means.__getitem__)


def _sortable(key: tuple) -> tuple:
    return tuple((v is None, v if v is not None else 0) for v in key)
