"""A dataset's inputs as one float tensor on the compute device, addressed by global row index.

Rows 0..N-1 are the training inputs (MNIST: 60,000), then the test inputs from `test_offset`,
and the last row is all zeros: the padding row that batched training uses for missing samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lowcap.data.datasets import Dataset
from lowcap.data.mnist import MNIST
from lowcap.data.tasks import TaskSplit


@dataclass
class ImageBank:
    """Inputs (pixels in [0, 1]: uint8 / 255 in float32 for MNIST), flattened, plus a zero
    padding row; test inputs start at row `test_offset`."""

    images: torch.Tensor
    test_offset: int

    @classmethod
    def from_dataset(cls, data: Dataset, device: str | torch.device = "cpu",
                     dtype: torch.dtype = torch.float32) -> ImageBank:
        """Build the bank from a verified dataset."""
        dim = data.facts.input_dim
        values = np.concatenate([data.train_inputs.reshape(-1, dim),
                                 data.test_inputs.reshape(-1, dim),
                                 np.zeros((1, dim), dtype=data.train_inputs.dtype)])
        # Divided in float32 for every dtype: a float64 bank then holds exactly the pixels of
        # code that scales in float32 and computes in float64 (the paper's code does).
        images = torch.from_numpy(values).to(device=device, dtype=torch.float32)
        images = images / data.facts.scale if data.facts.scale != 1.0 else images
        return cls(images.to(dtype), len(data.train_labels))

    @classmethod
    def from_mnist(cls, mnist: MNIST, device: str | torch.device = "cpu",
                   dtype: torch.dtype = torch.float32) -> ImageBank:
        """Build the bank from verified MNIST arrays."""
        return cls.from_dataset(Dataset.of_mnist(mnist), device, dtype)

    def to(self, dtype: torch.dtype) -> ImageBank:
        """The same inputs in another float type."""
        return ImageBank(self.images.to(dtype), self.test_offset)

    @property
    def input_dim(self) -> int:
        return self.images.shape[1]

    @property
    def pad_row(self) -> int:
        """Index of the all-zero padding row."""
        return self.images.shape[0] - 1

    @property
    def device(self) -> torch.device:
        return self.images.device

    def rows(self, split: TaskSplit, part: str) -> np.ndarray:
        """Global row indices of a split's part ('train', 'val' or 'test')."""
        if part == "test":
            return split.test_idx + self.test_offset
        return getattr(split, f"{part}_idx")

    def gather(self, rows: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Inputs [*rows.shape, input_dim] of global row indices (index_select: about twice as fast
        as advanced indexing on the CPU)."""
        index = torch.as_tensor(rows).to(self.device)
        return self.images.index_select(0, index.reshape(-1)).view(*index.shape, -1)

    def inputs(self, split: TaskSplit, part: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(x [N, input_dim], y [N]) of a split's part, on the bank's device."""
        x = self.gather(self.rows(split, part))
        y = torch.from_numpy(getattr(split, f"{part}_y")).to(self.device, self.images.dtype)
        return x, y

    def sample(self, split: TaskSplit, part: str, count: int, seed: int
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """At most `count` images of a split's part and their labels, a random subset fixed by
        `seed` (the analyses that explain models look at such a subset)."""
        x, y = self.inputs(split, part)
        take = torch.from_numpy(np.random.default_rng(seed).permutation(len(y))[:count])
        take = take.to(self.device)
        return x[take], y[take]
