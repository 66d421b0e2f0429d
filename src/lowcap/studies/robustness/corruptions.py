"""Seeded input corruptions for flattened MNIST images (x in [0, 1], shape [N, 784]).

Every corruption takes (x, severity parameter, seed) and returns new images in [0, 1]; the same
seed gives the same corrupted images, so every model is evaluated on identical inputs. Beyond
the paper's Gaussian noise and 7×7 occlusion, a small MNIST-C-style set (Mu & Gilmer, 2019)
uses scipy.ndimage for the geometric and blur transforms.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy import ndimage

from lowcap.studies.robustness.mnist_c import mnist_c

SIDE = 28
PARITY = "mnist_c/"  # the prefix of MNIST-C's published corruptions among the settings
Corruption = Callable[[torch.Tensor, float, int], torch.Tensor]


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _images(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy().reshape(-1, SIDE, SIDE)


def _back(images: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    flat = np.clip(images, 0.0, 1.0).reshape(-1, SIDE * SIDE)
    return torch.from_numpy(flat).to(device=like.device, dtype=like.dtype)


def gaussian_noise(x: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    """x + N(0, σ²) per pixel, clipped to [0, 1] (the paper's §4.6)."""
    noise = _rng(seed).normal(0.0, 1.0, size=tuple(x.shape)).astype(np.float32)
    return (x + sigma * torch.from_numpy(noise).to(x.device, x.dtype)).clamp(0.0, 1.0)


def occluder_masks(count: int, size: int, seed: int, device: torch.device | str = "cpu"
                   ) -> torch.Tensor:
    """Where `occlusion` puts its patch: [count, 784], True on the size×size square."""
    corners = torch.from_numpy(_rng(seed).integers(0, SIDE - size + 1, size=(count, 2)))
    grid = torch.arange(SIDE)
    rows = (grid >= corners[:, :1]) & (grid < corners[:, :1] + size)  # [count, 28]
    cols = (grid >= corners[:, 1:]) & (grid < corners[:, 1:] + size)
    return (rows[:, :, None] & cols[:, None, :]).reshape(count, SIDE * SIDE).to(device)


def occlusion(x: torch.Tensor, size: float, seed: int) -> torch.Tensor:
    """One size×size patch per image, at a uniformly random position, set to 0 (§4.6)."""
    return x.masked_fill(occluder_masks(x.shape[0], int(size), seed, x.device), 0.0)


def shot_noise(x: torch.Tensor, photons: float, seed: int) -> torch.Tensor:
    """Poisson noise: x' = Poisson(x · photons) / photons (fewer photons, more noise)."""
    counts = _rng(seed).poisson(x.detach().cpu().numpy() * photons) / photons
    return _back(counts, x)


def impulse_noise(x: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """Salt and pepper: a `fraction` of pixels set to 0 or 1 at random."""
    rng = _rng(seed)
    images = x.detach().cpu().numpy().copy()
    hit = rng.random(images.shape) < fraction
    images[hit] = rng.integers(0, 2, size=int(hit.sum())).astype(images.dtype)
    return _back(images, x)


def gaussian_blur(x: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    """Gaussian blur of each image (σ in pixels); deterministic, `seed` unused."""
    del seed
    return _back(ndimage.gaussian_filter(_images(x), sigma=(0, sigma, sigma)), x)


def shift(x: torch.Tensor, pixels: float, seed: int) -> torch.Tensor:
    """Translate each image by `pixels` in a random direction (zeros fill in)."""
    angles = _rng(seed).uniform(0, 2 * np.pi, size=x.shape[0])
    images = _images(x)
    out = np.stack([ndimage.shift(img, (pixels * np.sin(a), pixels * np.cos(a)), order=1)
                    for img, a in zip(images, angles, strict=True)])
    return _back(out, x)


def rotation(x: torch.Tensor, degrees: float, seed: int) -> torch.Tensor:
    """Rotate each image by ±`degrees` (random sign) about its centre."""
    signs = _rng(seed).choice([-1.0, 1.0], size=x.shape[0])
    out = np.stack([ndimage.rotate(img, s * degrees, reshape=False, order=1)
                    for img, s in zip(_images(x), signs, strict=True)])
    return _back(out, x)


def brightness(x: torch.Tensor, delta: float, seed: int) -> torch.Tensor:
    """Add `delta` to every pixel, clipped; deterministic, `seed` unused."""
    del seed
    return (x + delta).clamp(0.0, 1.0)


def stripe(x: torch.Tensor, width: float, seed: int) -> torch.Tensor:
    """A vertical band of `width` pixels at a random column set to 1 (a scanner streak)."""
    width = int(width)
    out = x.clone().reshape(-1, SIDE, SIDE)
    starts = _rng(seed).integers(0, SIDE - width + 1, size=out.shape[0])
    cols = torch.from_numpy(starts).to(x.device).unsqueeze(1) + torch.arange(width,
                                                                             device=x.device)
    n = torch.arange(out.shape[0], device=x.device)[:, None, None]
    rows = torch.arange(SIDE, device=x.device)[None, :, None]
    out[n, rows, cols[:, None, :]] = 1.0
    return out.reshape(x.shape)


CORRUPTIONS: dict[str, Corruption] = {
    "gaussian": gaussian_noise, "occlusion": occlusion, "shot_noise": shot_noise,
    "impulse_noise": impulse_noise, "gaussian_blur": gaussian_blur, "shift": shift,
    "rotation": rotation, "brightness": brightness, "stripe": stripe,
}
# Severity 1..5 → the corruption's parameter (MNIST-C style: mild to strong).
SEVERITIES: dict[str, tuple[float, ...]] = {
    "shot_noise": (60, 25, 12, 5, 3),
    "impulse_noise": (0.03, 0.06, 0.09, 0.17, 0.27),
    "gaussian_blur": (0.5, 0.75, 1.0, 1.5, 2.0),
    "shift": (1, 2, 3, 4, 5),
    "rotation": (10, 20, 30, 45, 60),
    "brightness": (0.1, 0.2, 0.3, 0.4, 0.5),
    "stripe": (1, 2, 3, 4, 5),
}


def corrupt(x: torch.Tensor, name: str, parameter: float, seed: int) -> torch.Tensor:
    """Apply corruption `name` with its parameter (σ, patch size, severity value, …); a name
    `mnist_c/<corruption>` is MNIST-C's own at its default severity (`parameter` unused),
    `mnist_c/identity` the clean images."""
    if name.startswith(PARITY):
        corruption = name.removeprefix(PARITY)
        return x if corruption == "identity" else _back(mnist_c(_images(x), corruption, seed), x)
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; choose from {sorted(CORRUPTIONS)}")
    return CORRUPTIONS[name](x, parameter, seed)
