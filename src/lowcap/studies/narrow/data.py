"""The narrow-network study's data: n training samples (and, for real labels, the pair's whole
test split), inputs scaled to norm √d, so that LeCun's start gives unit-variance
pre-activations (tanh then works in its curved range, not its nearly linear one)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from lowcap.data.catalog import Datasets
from lowcap.data.tasks import make_split
from lowcap.studies.narrow.config import NarrowConfig

PAIR = (4, 9)  # the paper's hardest pair, on every image data set


@dataclass(frozen=True)
class NarrowData:
    """Training inputs x [n, d] and targets y [n] (float64); test inputs and ±1 labels where
    the labels are real (None for random targets or labels)."""

    name: str
    x: torch.Tensor
    y: torch.Tensor
    x_test: torch.Tensor | None = None
    y_test: torch.Tensor | None = None

    @property
    def interpolation_width(self) -> float:
        """2n/d: the width above which a global minimiser of zero loss exists."""
        n, d = self.x.shape
        return 2 * n / d

    def to(self, device: torch.device, dtype: torch.dtype = torch.float64) -> NarrowData:
        """The same data on `device`, in `dtype`."""
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, dtype)

        return NarrowData(self.name, move(self.x), move(self.y), move(self.x_test),
                          move(self.y_test))


def _scaled(values: np.ndarray) -> torch.Tensor:
    """Rows flattened and scaled to norm √d (float64)."""
    x = torch.from_numpy(values.reshape(len(values), -1).astype(np.float64))
    return x * (math.sqrt(x.shape[1]) / x.norm(dim=1, keepdim=True).clamp_min(1e-30))


def load(datasets: Datasets, spec: NarrowConfig, name: str) -> NarrowData:
    """One of the study's data sets (see `NarrowConfig.datasets`)."""
    if name == "synthetic":
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(spec.samples, spec.synthetic_dim, generator=gen, dtype=torch.float64)
        y = torch.randn(spec.samples, generator=gen, dtype=torch.float64)
        return NarrowData(name, _scaled(x.numpy()), y)
    source = datasets.get("mnist" if name == "mnist_random" else name)
    split = make_split(source.train_labels, source.test_labels, PAIR, 0)
    rows = split.train_idx[: spec.samples]
    x = _scaled(source.train_inputs[rows] / source.facts.scale)
    y = torch.from_numpy(2.0 * split.train_y[: spec.samples] - 1).double()
    if name == "mnist_random":
        y = y[torch.from_numpy(np.random.default_rng(1).permutation(len(y)))]
        return NarrowData(name, x, y)
    x_test = _scaled(source.test_inputs[split.test_idx] / source.facts.scale)
    y_test = torch.from_numpy(2.0 * split.test_y - 1).double()
    return NarrowData(name, x, y, x_test, y_test)


def widths(spec: NarrowConfig, data: NarrowData) -> list[int]:
    """The study's widths for a data set: the even m nearest multiplier · 2n/d (at least 2),
    each once, in order."""
    base = data.interpolation_width
    return sorted({max(2, 2 * round(k * base / 2)) for k in spec.multipliers})
