"""Weights on disk as safetensors (no pickle), written atomically, read with clear errors, and
checked against the size and sha256 recorded in the store when they were written."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from lowcap.atomic import atomic_path, write_error
from lowcap.errors import StoreError

RETRAIN = "run `lowcap reproduce` on the run folder to train it again"


@dataclass(frozen=True)
class FileRecord:
    """What a written file must still be: its size in bytes and its sha256."""

    bytes: int
    sha256: str


def save_tensors(path: Path, tensors: dict[str, torch.Tensor],
                 metadata: dict[str, str] | None = None) -> FileRecord:
    """Write tensors atomically (contiguous CPU copies), with optional text `metadata` in
    the file's header; returns the file's record."""
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    try:
        blob = save(cpu, metadata=metadata)
    except SafetensorError as exc:
        raise write_error(path, str(exc)) from exc
    with atomic_path(path) as tmp:
        tmp.write_bytes(blob)
    return FileRecord(len(blob), hashlib.sha256(blob).hexdigest())


def damage(path: Path, record: FileRecord | None) -> str | None:
    """Why `path` is not the file that was written ('missing', 'truncated', ...), or None if
    it is (without a record, only its presence can be checked)."""
    if not path.is_file():
        return "missing"
    if record is None:
        return None
    size = path.stat().st_size
    if size != record.bytes:
        return f"{size} bytes instead of {record.bytes}"
    if hashlib.sha256(path.read_bytes()).hexdigest() != record.sha256:
        return "its content changed (sha256 differs)"
    return None


def load_tensors(path: Path, device: str | torch.device = "cpu",
                 record: FileRecord | None = None) -> dict[str, torch.Tensor]:
    """Read a safetensors file, checked against `record` when given; StoreError naming the
    file if it is missing or damaged."""
    return load_tensors_and_header(path, device, record)[0]


def load_tensors_and_header(path: Path, device: str | torch.device = "cpu",
                            record: FileRecord | None = None
                            ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """`load_tensors`, and the text metadata written in the file's header ({} if none)."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError as exc:
        raise StoreError(f"checkpoint {path} is missing; {RETRAIN}") from exc
    except OSError as exc:
        raise StoreError(f"checkpoint {path} cannot be read ({exc.strerror})") from exc
    if record is not None and (len(blob) != record.bytes
                               or hashlib.sha256(blob).hexdigest() != record.sha256):
        raise StoreError(f"checkpoint {path} is corrupted (it is not the file lowcap wrote); "
                         f"{RETRAIN}")
    try:
        tensors = load(blob)
        size = int.from_bytes(blob[:8], "little")  # safetensors: header length, then JSON
        header = json.loads(blob[8:8 + size]).get("__metadata__") or {}
    except (SafetensorError, ValueError, AttributeError) as exc:
        raise StoreError(f"checkpoint {path} is corrupted ({exc}); {RETRAIN}") from exc
    return {k: v.to(device) for k, v in tensors.items()}, header
