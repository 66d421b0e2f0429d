"""Weights on disk as safetensors (no pickle), written atomically, read with clear errors."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from lowcap.atomic import atomic_path, write_error
from lowcap.errors import StoreError


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Write tensors atomically (contiguous CPU copies)."""
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    try:
        with atomic_path(path) as tmp:
            save_file(cpu, str(tmp))
    except SafetensorError as exc:  # safetensors reports I/O failures (disk full) this way
        raise write_error(path, str(exc)) from exc


def load_tensors(path: Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Read a safetensors file; StoreError naming the file if it is missing or corrupted."""
    if not path.exists():
        raise StoreError(f"checkpoint {path} is missing")
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise StoreError(f"checkpoint {path} is corrupted ({exc})") from exc
