"""Opening a run directory: validate everything first, then take the run's lock and write.

A changed config in the same directory is fine: models are named by what determines them, so
finished ones are reused and the report follows the config last run. Checkpoints that are no
longer the files lowcap wrote (truncated, edited, missing) are dropped from the store at open,
so the run trains those models again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import torch

from lowcap.atomic import atomic_write_text
from lowcap.data.catalog import Datasets
from lowcap.errors import UserInputError
from lowcap.run.checkpoints import damage
from lowcap.run.config import RunConfig
from lowcap.run.context import RunContext
from lowcap.run.memory import check_memory
from lowcap.run.plan import ModelPlan, datasets_of
from lowcap.run.run_folder import (
    STORE_FILE,
    RunLock,
    check_fresh_target,
    check_writable_target,
    clear_run,
    owned_path,
    remove_stale_temporaries,
)
from lowcap.run.split import plan_split
from lowcap.run.store import Store
from lowcap.training import matmul_description

log = logging.getLogger(__name__)


def resolve_device(device: str) -> torch.device:
    """'auto' → CUDA when available, else CPU; 'cuda' without a GPU is a user error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserInputError("--device cuda: no CUDA device is available; use --device cpu")
    return torch.device(device)


def damaged_checkpoints(store: Store, out: Path) -> dict[str, str]:
    """model_id → why its checkpoint is not the file lowcap wrote (missing, truncated, changed),
    for every stored model whose checkpoint is damaged."""
    records = store.file_records()
    found = {}
    for model_id, path in store.checkpoints().items():
        reason = damage(owned_path(out, path), records.get(path))
        if reason is not None:
            found[model_id] = f"{path}: {reason}"
    return found


def check_run(out: Path, groups: Iterable[tuple[str, str, list[ModelPlan]]],
              device: torch.device, fresh: bool) -> None:
    """Everything about `out` and the run that can be checked before anything is written: the
    folder may be written (and emptied, with `fresh`), and the largest cohort of the training
    `groups` ((study, protocol, plans) each) fits."""
    if fresh:
        check_fresh_target(out)
    check_writable_target(out)
    check_memory(groups, device)


def open_run(out: Path, cfg: RunConfig, device: torch.device, fresh: bool, quiet: bool,
             repair: bool = True, plans: Iterable[ModelPlan] = ()) -> RunContext:
    """Prepare `out` for `cfg` (resuming what it holds) and load the data onto the device.

    Call `check_run` first: what it checks (output folder, memory) and the data are checked
    before the folder is created or changed; then this process holds the run lock until the
    context is closed. With `repair` (a run that trains), models whose checkpoint is damaged
    are dropped from the store so that training makes them again; without it, reading one
    fails naming it. The datasets the `plans` use are loaded and verified first, and every
    plan's split is drawn: a setting that leaves a split without images of a class is refused
    before the folder is touched."""
    plans = list(plans)
    data = Datasets(device, cfg.data_dirs, progress=not quiet)
    data.load(datasets_of(plans) if plans else ("mnist",))
    splits = {plan.lane_key(): plan_split(data.get(plan.hp.dataset), plan) for plan in plans}
    lock = RunLock(out)
    try:
        if fresh:
            clear_run(out)
        remove_stale_temporaries(out)  # left by a killed run
        store = Store(out / STORE_FILE)
        store.check_integrity()
        if repair:
            damaged = damaged_checkpoints(store, out)
            for reason in damaged.values():
                log.warning("checkpoint %s; its model will be trained again", reason)
            store.forget_models(list(damaged))
        atomic_write_text(out / "config.yaml", cfg.to_yaml())
        store.set_meta("config", cfg.model_dump(mode="json"))
        store.set_meta("device", device.type)
        store.set_meta("train_matmul", matmul_description(cfg.matmul_precision, device))
        if "mnist" in data.sources:
            store.set_meta("data_source", data.sources["mnist"])
        store.set_meta("data_sources", data.sources)
    except BaseException:
        lock.release()
        raise
    return RunContext(out=out, store=store, datasets=data, quiet=quiet, lock=lock,
                      _splits=splits)
