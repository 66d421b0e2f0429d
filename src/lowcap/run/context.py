"""What a study's compute receives: a run folder opened for work (`RunContext`) and where
its work runs when not here (`Executor`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch

from lowcap.data.bank import ImageBank
from lowcap.data.catalog import Datasets
from lowcap.data.tasks import TaskSplit
from lowcap.run.checkpoints import load_tensors
from lowcap.run.plan import ModelPlan
from lowcap.run.run_folder import RunLock
from lowcap.run.split import plan_split
from lowcap.run.store import Store

R = TypeVar("R")


class Executor(Protocol):
    """Where training units and analysis work items run when not here (`RayExecutor`)."""

    def train(self, ctx: RunContext, groups: list[list[ModelPlan]]) -> None: ...

    def map(self, fn: Callable[..., Any], items: list[tuple]) -> list[Any]: ...


@dataclass
class RunContext:
    """A run directory opened for work: its store, its datasets on the compute device, options."""

    out: Path
    store: Store
    datasets: Datasets
    quiet: bool = False
    executor: Executor | None = None  # None: train here, with snapshots
    lock: RunLock | None = None  # held while this process writes to the run
    _splits: dict[tuple, TaskSplit] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return self.datasets.device

    def bank_for(self, plan: ModelPlan) -> ImageBank:
        """The inputs a plan trains on: its dataset's bank in its float type."""
        return self.datasets.bank(plan.hp.dataset, plan.hp.torch_dtype)

    def analysis_bank(self, plan: ModelPlan) -> ImageBank:
        """The inputs analyses read for a plan's model: its dataset's float32 bank."""
        return self.datasets.bank(plan.hp.dataset)

    def split(self, plan: ModelPlan) -> TaskSplit:
        """The (cached) split a plan trains and evaluates on."""
        key = plan.lane_key()
        if key not in self._splits:
            self._splits[key] = plan_split(self.datasets.get(plan.hp.dataset), plan)
        return self._splits[key]

    def map(self, fn: Callable[..., R], items: list[tuple]) -> list[R]:
        """[fn(*item) for item in items], as Ray tasks when running on a cluster. `fn` must be a
        module-level function of its arguments alone (no store, no run directory)."""
        if self.executor is None:
            return [fn(*item) for item in items]
        return self.executor.map(fn, items)

    def load_params(self, model_id: str) -> dict[str, torch.Tensor]:
        """A trained model's numbered layers {w1, b1, …} on the compute device, checked
        against the record the store made when it was written, in float32 (analyses run in
        float32, whatever the model trained in)."""
        path = f"checkpoints/{model_id}.safetensors"
        params = load_tensors(self.out / path, self.device, self.store.file_records().get(path))
        return {k: v.to(torch.float32) for k, v in params.items()}

    def close(self) -> None:
        """Close the store and release the run lock."""
        self.store.close()
        if self.lock is not None:
            self.lock.release()
