"""Opening a run directory: validate first, then create. A changed config in the same directory
is fine: models are named by what determines them, so finished ones are reused and the report
follows the config last run."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from lowcap.atomic import atomic_write_text, remove_stale_temporaries
from lowcap.data.bank import ImageBank
from lowcap.data.mnist import load_mnist
from lowcap.errors import UserInputError
from lowcap.experiments.config import ExperimentConfig
from lowcap.experiments.runner import RunContext
from lowcap.experiments.store import Store
from lowcap.training import matmul_description


def resolve_device(device: str) -> torch.device:
    """'auto' → CUDA when available, else CPU; 'cuda' without a GPU is a user error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserInputError("--device cuda: no CUDA device is available; use --device cpu")
    return torch.device(device)


def open_run(out: Path, cfg: ExperimentConfig, device: str, fresh: bool, quiet: bool
             ) -> RunContext:
    """Prepare `out` for `cfg` (resuming what it holds) and load the data onto the device."""
    dev = resolve_device(device)
    loaded = load_mnist(progress=not quiet)
    if fresh and out.exists():
        shutil.rmtree(out)
    remove_stale_temporaries(out)  # left by a killed run
    store = Store(out / "store" / "results.sqlite")
    atomic_write_text(out / "config.yaml", cfg.to_yaml())
    store.set_meta("config", cfg.model_dump(mode="json"))
    store.set_meta("device", dev.type)
    store.set_meta("train_matmul", matmul_description(cfg.matmul_precision, dev))
    store.set_meta("data_source", loaded.source)
    bank = ImageBank.from_mnist(loaded.mnist, device=dev)
    return RunContext(out=out, store=store, mnist=loaded.mnist, bank=bank, quiet=quiet)
