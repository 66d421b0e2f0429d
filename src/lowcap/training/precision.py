"""The float32 matmul precision of training steps, and what it means on this device."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def matmul_precision(precision: str) -> Iterator[None]:
    """Run the body with PyTorch's float32 matmul precision set to `precision` ('highest',
    'high' or 'medium'), restoring the previous setting afterwards."""
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision(precision)
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


def matmul_description(precision: str, device: torch.device) -> str:
    """What `precision` does to the training GEMMs on `device`, in words for the report."""
    if precision == "highest":
        return "float32"
    if device.type == "cuda":
        return "TF32/bf16 tensor cores, float32 sums"
    if _cpu_rounds_to_bf16(precision):
        return "bf16 products, float32 sums (oneDNN)"
    return "float32 (this CPU's kernels do not use bf16 at this precision)"


@functools.cache
def _cpu_rounds_to_bf16(precision: str) -> bool:
    """Whether a float32 matmul at `precision` rounds its inputs to bf16 on this CPU, found by
    computing one (whether oneDNN uses bf16 depends on the CPU and the PyTorch build, not on
    one instruction-set flag): bf16 inputs err by about 1e-2 relative, float32 by 1e-7."""
    a = torch.linspace(-1.0, 1.0, 128 * 784).reshape(128, 784).sin()  # a batch, MNIST-wide
    b = torch.linspace(-1.0, 1.0, 784 * 32).reshape(784, 32).cos()
    exact = a.double() @ b.double()
    with matmul_precision(precision):
        product = a @ b
    return bool(((product.double() - exact).abs().max() / exact.abs().max()) > 1e-4)


