"""Data augmentation on the device: random translations and small rotations of each training
image, drawn per (order seed, epoch) so that a run is reproducible and every model of a lane
sees the same augmented batches.

Each image gets a shift (dx, dy) uniform in ±`SHIFT` pixels of a 28×28 image (the same share
of the side for other square images: ±0.57 px at 8×8) and a rotation uniform in ±`ROTATE`
degrees about its centre, resampled bilinearly with zeros outside
(`F.affine_grid` + `F.grid_sample`). The draws are made on the host before the epoch; the
resampling runs where the images are.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

SIDE = 28
SHIFT = 2.0  # pixels
ROTATE = 10.0  # degrees
_STREAM = 0xA06  # separates augmentation draws from the batch order's stream


def draws(order_seed: int, epoch: int, shape: tuple[int, ...]) -> np.ndarray:
    """Shifts and angles [*shape, 3] (dx, dy in pixels; angle in degrees) of one epoch."""
    rng = np.random.default_rng([order_seed, epoch, _STREAM])
    shift = rng.uniform(-SHIFT, SHIFT, size=(*shape, 2))
    angle = rng.uniform(-ROTATE, ROTATE, size=(*shape, 1))
    return np.concatenate([shift, angle], axis=-1)


def thetas(params: torch.Tensor) -> torch.Tensor:
    """`F.affine_grid` matrices [..., 2, 3] for (dx, dy, angle) [..., 3]: the output pixel at p
    shows the input at R(−angle)·p − (dx, dy) (the image moves by (dx, dy) and turns by angle),
    in the normalised coordinates of a 28×28 image (align_corners=False)."""
    dx, dy, angle = params.unbind(-1)
    rad = torch.deg2rad(angle)
    cos, sin = torch.cos(rad), torch.sin(rad)
    scale = 2.0 / SIDE  # one pixel in normalised units
    row0 = torch.stack([cos, sin, -dx * scale], -1)
    row1 = torch.stack([-sin, cos, -dy * scale], -1)
    return torch.stack([row0, row1], -2)


def augment(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Square images x [..., side²] resampled through matrices theta [..., 2, 3] (same leading
    shape)."""
    lead, side = x.shape[:-1], math.isqrt(x.shape[-1])
    images = x.reshape(-1, 1, side, side)
    grid = F.affine_grid(theta.reshape(-1, 2, 3).to(x.dtype), list(images.shape),
                         align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)
    return out.reshape(*lead, side * side)
