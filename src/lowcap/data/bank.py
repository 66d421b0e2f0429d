"""All MNIST images as one float tensor on the compute device, addressed by global row index.

Rows 0..59,999 are the training images, 60,000..69,999 the test images, and the last row is all
zeros: the padding row that batched training uses for missing samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lowcap.data.mnist import MNIST
from lowcap.data.tasks import TaskSplit

TEST_OFFSET = 60000


@dataclass
class ImageBank:
    """Pixels in [0, 1] (uint8 / 255 in float32), flattened to 784, plus a zero padding row."""

    images: torch.Tensor

    @classmethod
    def from_mnist(cls, mnist: MNIST, device: str | torch.device = "cpu",
                   dtype: torch.dtype = torch.float32) -> ImageBank:
        """Build the bank from verified MNIST arrays."""
        pixels = np.concatenate([mnist.train_images.reshape(-1, 784),
                                 mnist.test_images.reshape(-1, 784),
                                 np.zeros((1, 784), dtype=np.uint8)])
        # Divided in float32 for every dtype: a float64 bank then holds exactly the pixels of
        # code that scales in float32 and computes in float64 (the paper's code does).
        images = (torch.from_numpy(pixels).to(device=device, dtype=torch.float32) / 255.0)
        return cls(images.to(dtype))

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
            return split.test_idx + TEST_OFFSET
        return getattr(split, f"{part}_idx")

    def gather(self, rows: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Images [*rows.shape, 784] of global row indices (index_select: about twice as fast
        as advanced indexing on the CPU)."""
        index = torch.as_tensor(rows).to(self.device)
        return self.images.index_select(0, index.reshape(-1)).view(*index.shape, -1)

    def inputs(self, split: TaskSplit, part: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(x [N, 784], y [N]) of a split's part, on the bank's device."""
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
