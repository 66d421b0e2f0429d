"""Small tensor operations shared by training and the analyses."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np
import torch


def sort_rows(values: torch.Tensor) -> torch.Tensor:
    """Each row of a 2-D tensor sorted ascending. On the CPU NumPy sorts (its SIMD sort is
    about 8× torch's there); elsewhere torch does."""
    if values.device.type == "cpu":
        return torch.from_numpy(np.sort(values.numpy(), axis=-1))
    return values.sort(dim=-1).values.contiguous()


def finite_or_zero(t: torch.Tensor) -> torch.Tensor:
    """t with NaN and ±inf replaced by 0: what the cohort's model-mixing GEMMs read."""
    return torch.nan_to_num(t, nan=0.0, posinf=0.0, neginf=0.0)


@contextlib.contextmanager
def empty_cells_quiet() -> Iterator[None]:
    """NumPy's "mean of empty slice" (and SciPy's constant-input warnings) where every model
    of a cell diverged or gave one answer: the number is NaN, which lowcap reports as such."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
