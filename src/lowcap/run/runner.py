"""Training plans into the store: cohorts, periodic atomic snapshots, and resumption.

A *unit* is one cohort (models with the same cohort key, laned by split). Every
`snapshot_every` epochs its state is written to a new safetensors file and, in one store
transaction, the epochs' metrics and the unit's progress marker are committed; only then is the
previous snapshot deleted. A killed run therefore resumes from the last committed epoch and,
because batch order is a pure function of (seed, epoch), ends with the same results as an
uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from lowcap.data.bank import ImageBank
from lowcap.data.catalog import Datasets
from lowcap.data.datasets import Dataset
from lowcap.data.mnist import MNIST
from lowcap.data.tasks import TaskSplit, make_split
from lowcap.errors import StoreError, UserInputError
from lowcap.models.cohort import Cohort, Lane, ModelSpec
from lowcap.progress import progress
from lowcap.run.checkpoints import (
    RETRAIN,
    load_tensors,
    load_tensors_and_header,
    save_tensors,
)
from lowcap.run.plan import ModelPlan
from lowcap.run.run_folder import RunLock, owned_path
from lowcap.run.store import Store
from lowcap.training.trainer import METRIC_NAMES, EpochResult, train_cohort

R = TypeVar("R")
# An analysis's results: (model id, params, metric, value) per row.
Rows = list[tuple[str, dict, str, float]]
log = logging.getLogger(__name__)


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
        return self.datasets.bank(plan.dataset, plan.torch_dtype)

    def analysis_bank(self, plan: ModelPlan) -> ImageBank:
        """The inputs analyses read for a plan's model: its dataset's float32 bank."""
        return self.datasets.bank(plan.dataset)

    def split(self, plan: ModelPlan) -> TaskSplit:
        """The (cached) split a plan trains and evaluates on."""
        key = plan.lane_key()
        if key not in self._splits:
            self._splits[key] = plan_split(self.datasets.get(plan.dataset), plan)
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


def plan_split(data: Dataset | MNIST, plan: ModelPlan) -> TaskSplit:
    """The split a plan trains and evaluates on (`train_size`: a stratified draw of that many
    training images; random labels: training labels shuffled; validation and test are whole
    and keep the truth). UserInputError when `val_fraction` or `train_size` leaves a part
    of the split without two images of each class."""
    try:
        split = make_split(data.train_labels, data.test_labels, plan.pair, plan.seed,
                           balance=plan.balance, val_fraction=plan.val_fraction,
                           draws=plan.draws)
        if plan.train_size is not None and plan.train_size < len(split.train_idx):
            train_idx, _, train_y, _ = train_test_split(
                split.train_idx, split.train_y, train_size=plan.train_size,
                stratify=split.train_y, random_state=plan.seed)
            split = replace(split, train_idx=train_idx, train_y=train_y)
    except ValueError as exc:  # scikit-learn: a part too small for a stratified split
        raise UserInputError(
            f"val_fraction {plan.val_fraction:g}, train_size {plan.train_size}: pair "
            f"{plan.pair_key} of {plan.dataset} (seed {plan.seed}) cannot be split so that "
            f"training and validation each hold images of both classes ({exc}); choose a "
            "val_fraction nearer 0.2 or a larger train_size") from exc
    for part, labels in (("training", split.train_y), ("validation", split.val_y)):
        if min(int((labels == 0).sum()), int((labels == 1).sum())) < 1:
            raise UserInputError(
                f"val_fraction {plan.val_fraction:g}, train_size {plan.train_size}: the "
                f"{part} part of pair {plan.pair_key} of {plan.dataset} (seed {plan.seed}) "
                "holds images of one class only; choose a val_fraction nearer 0.2 or a larger "
                "train_size")
    if plan.labels == "random":
        rng = np.random.default_rng([plan.seed, 1])
        split = replace(split, train_y=rng.permutation(split.train_y))
    return split


def unit_id(plans: list[ModelPlan]) -> str:
    blob = json.dumps(sorted(p.model_id for p in plans)).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def train_plans(ctx: RunContext, study: str, plans: list[ModelPlan], snapshot_every: int) -> int:
    """Train every plan not already in the store (`study` names them in progress lines);
    returns how many models were trained."""
    unique = {p.model_id: p for p in plans}
    done = ctx.store.done_models(unique)
    pending = [p for mid, p in unique.items() if mid not in done]
    if pending and len(pending) < len(unique) and not ctx.quiet:
        print(f"lowcap: {study}: {len(unique) - len(pending)} models reused, {len(pending)} to "
              "train", file=sys.stderr, flush=True)
    by_cohort: dict[tuple, list[ModelPlan]] = defaultdict(list)
    for plan in pending:
        by_cohort[plan.cohort_key()].append(plan)
    if ctx.executor is not None:
        ctx.executor.train(ctx, list(by_cohort.values()))
        return len(pending)
    for group in by_cohort.values():
        _train_here(ctx, study, group, snapshot_every)
    return len(pending)


def layout(plans: list[ModelPlan], split_of: Callable[[ModelPlan], TaskSplit]
           ) -> tuple[list[Lane], list[list[ModelPlan]]]:
    """Lanes (models sharing a split and batch order) and the plans of each lane, in order."""
    by_lane: dict[tuple, list[ModelPlan]] = defaultdict(list)
    for plan in sorted(plans, key=lambda p: (p.lane_key(), p.hidden, p.lr)):
        by_lane[plan.lane_key()].append(plan)
    lanes, lane_plans = [], []
    for members in by_lane.values():
        first = members[0]
        specs = tuple(ModelSpec(p.hidden, p.lr, p.seed, p.init_spec, p.optimiser_spec)
                      for p in members)
        lanes.append(Lane(split_of(first), first.seed, specs, first.augment))
        lane_plans.append(members)
    return lanes, lane_plans


TrainedParams = list[tuple[ModelPlan, dict[str, torch.Tensor], int]]  # (plan, params, diverged)
AfterEpoch = Callable[[Cohort, np.ndarray, list[tuple], int], bool]


def train_unit(plans: list[ModelPlan], bank: ImageBank,
               split_of: Callable[[ModelPlan], TaskSplit], resume: dict | None = None,
               start: int = 0, after_epoch: AfterEpoch | None = None
               ) -> tuple[TrainedParams, list[tuple]]:
    """Train one unit (plans sharing a cohort key) as one cohort, from epoch `start` and the
    `resume` state when given. The one unit trainer of both executors: it needs no store.

    `after_epoch(cohort, diverged_epoch, rows, epochs_done)` sees the epoch rows gathered so
    far and returns whether it took them (they are then dropped here). Returns each model's
    final parameters and divergence epoch (-1: none), and the rows nobody took."""
    lanes, lane_plans = layout(plans, split_of)
    first = plans[0]
    cohort = Cohort(lanes, activation=first.activation,  # type: ignore[arg-type]
                    device=bank.device, dtype=bank.images.dtype, input_dim=bank.input_dim,
                    depth=first.depth)
    diverged_epoch = np.full((cohort.n_lanes, cohort.max_models), -1, dtype=np.int64)
    if resume is not None:
        try:
            cohort.load_state(resume)
            diverged_epoch = resume["diverged_epoch"].cpu().numpy()
        except (KeyError, ValueError) as exc:  # before any epoch ran
            raise SnapshotError(f"the snapshot does not fit the unit ({exc})") from exc
    rows: list[tuple] = []

    def on_epoch(cohort: Cohort, result: EpochResult) -> None:
        rows.extend(record_epoch(lane_plans, result, diverged_epoch))
        if after_epoch is not None and after_epoch(cohort, diverged_epoch, rows,
                                                   result.epoch + 1):
            rows.clear()

    train_cohort(cohort, bank, first.epochs, first.batch_size, start_epoch=start,
                 on_epoch=on_epoch, diverged=diverged_epoch >= 0,
                 precision=first.matmul_precision, budget=first.budget_batch_size)
    models = [(plan, cohort.model_params(g, i), int(diverged_epoch[g, i]))
              for g, members in enumerate(lane_plans) for i, plan in enumerate(members)]
    return models, rows


def _train_here(ctx: RunContext, study: str, plans: list[ModelPlan],
                snapshot_every: int) -> None:
    """Train one unit in this process, resuming from and committing snapshots."""
    uid = unit_id(plans)
    first = plans[0]
    bank = ctx.bank_for(first)
    unit = ctx.store.unit(uid)
    resume = None
    if unit is not None and unit["snapshot"]:
        try:
            resume = load_snapshot(ctx, uid, unit)
        except StoreError as exc:  # the unit starts over; its epoch rows are rewritten
            log.warning("%s; training %d models of %s from the start", exc, len(plans), study)

    def attempt(resume: dict | None, start: int) -> TrainedParams:
        bar = progress(first.epochs, f"{study} {first.protocol} ({len(plans)} models)",
                       ctx.quiet, unit="epochs", initial=start)

        def after_epoch(cohort: Cohort, diverged_epoch: np.ndarray, rows: list[tuple],
                        epoch_done: int) -> bool:
            commit = epoch_done % snapshot_every == 0 or epoch_done == first.epochs
            if commit:
                _commit_snapshot(ctx, uid, cohort, diverged_epoch, epoch_done, rows)
            bar.update(1)
            return commit

        try:
            return train_unit(plans, bank, ctx.split, resume, start, after_epoch)[0]
        finally:
            bar.close()

    try:
        models = attempt(resume, unit["epoch_done"] if resume is not None else 0)
    except SnapshotError as exc:  # raised before any epoch ran
        log.warning("%s; training %d models of %s from the start", exc, len(plans), study)
        models = attempt(None, 0)
    store_trained(ctx, uid, models)


def record_epoch(lane_plans: list[list[ModelPlan]], result: EpochResult,
                 diverged_epoch: np.ndarray) -> list[tuple]:
    """The store rows of one epoch; notes first divergences in `diverged_epoch` (in place)."""
    newly = result.diverged & (diverged_epoch < 0)
    diverged_epoch[newly] = result.epoch
    return [(plan.model_id, result.epoch,
             *(_sql_float(result.metrics[k][g, i]) for k in METRIC_NAMES))
            for g, members in enumerate(lane_plans) for i, plan in enumerate(members)]


def _sql_float(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def load_snapshot(ctx: RunContext, uid: str, unit: dict) -> dict[str, torch.Tensor]:
    """The unit's last committed snapshot, verified before it resumes anything: the file the
    store recorded (size and sha256: a file copied over it is refused) and written for this
    unit at this epoch (its header says so; a snapshot of older lowcaps has no header and is
    checked by its record alone). StoreError naming the file otherwise."""
    path = owned_path(ctx.out, unit["snapshot"])
    record = ctx.store.file_records().get(unit["snapshot"])
    tensors, header = load_tensors_and_header(path, ctx.device, record)
    wrote = {"unit": uid, "epoch": str(unit["epoch_done"])}
    if header and {k: header.get(k) for k in wrote} != wrote:
        raise SnapshotError(f"snapshot {path} was not written for this unit at epoch "
                            f"{unit['epoch_done']} (its header says {header}); {RETRAIN}")
    return tensors


class SnapshotError(StoreError):
    """A snapshot that cannot resume its unit (another unit's, another epoch's, another
    shape): the unit is trained from the start instead."""


def _commit_snapshot(ctx: RunContext, uid: str, cohort: Cohort, diverged_epoch: np.ndarray,
                     epoch_done: int, rows: list[tuple]) -> None:
    name = f"checkpoints/unit-{uid}-e{epoch_done:04d}.safetensors"
    record = save_tensors(ctx.out / name, {**cohort.state(),
                                           "diverged_epoch": torch.from_numpy(diverged_epoch)},
                          {"unit": uid, "epoch": str(epoch_done)})
    previous = ctx.store.unit(uid)
    ctx.store.commit_epochs(rows, uid, epoch_done, name, record)
    if previous and previous["snapshot"] and previous["snapshot"] != name:
        owned_path(ctx.out, previous["snapshot"]).unlink(missing_ok=True)


def store_trained(ctx: RunContext, unit: str, models: TrainedParams,
                  epoch_rows: list[tuple] = ()) -> None:
    """Write each model's checkpoint (its plan in the file's metadata, so a checkpoint
    describes itself), then commit the models (and any epoch rows) and mark the unit done in
    one transaction; finally drop the unit's snapshot."""
    rows, files = [], []
    for plan, params, diverged in models:
        path = f"checkpoints/{plan.model_id}.safetensors"
        spec = json.dumps(asdict(plan))
        # One metadata key: safetensors writes a header map in no fixed order, and checkpoints
        # of a resumed run must be byte-identical to an uninterrupted run's.
        record = save_tensors(ctx.out / path, params, {"plan": spec})
        files.append((path, record.bytes, record.sha256))
        rows.append((plan.model_id, plan.protocol, plan.pair_key, plan.hidden, plan.lr,
                     plan.seed, spec, diverged if diverged >= 0 else None, path))
    snapshot = (ctx.store.unit(unit) or {}).get("snapshot")
    ctx.store.commit_models(unit, rows, files, list(epoch_rows))
    if snapshot:
        owned_path(ctx.out, snapshot).unlink(missing_ok=True)


@dataclass(frozen=True)
class TrainedModel:
    """A trained model as the store knows it: its plan, id and divergence."""

    plan: ModelPlan
    model_id: str
    diverged: bool


def trained_models(store: Store, plans: list[ModelPlan]) -> list[TrainedModel]:
    """The stored models of these plans, in plan order (plans not yet trained are skipped)."""
    rows = store.models([p.model_id for p in plans])
    return [TrainedModel(p, p.model_id, rows[p.model_id]["diverged_epoch"] is not None)
            for p in plans if p.model_id in rows]


def _analysis_uid(analysis: str, identity: object) -> str:
    blob = json.dumps([analysis, identity], sort_keys=True, default=str).encode()
    return f"{analysis}-{hashlib.sha256(blob).hexdigest()[:16]}"


def analysis_done(ctx: RunContext, analysis: str, identity: object) -> bool:
    """Whether the store holds the analysis unit of this exact `identity`."""
    unit = ctx.store.unit(_analysis_uid(analysis, identity))
    return unit is not None and bool(unit["done"])


def run_analysis_unit(ctx: RunContext, analysis: str, identity: object,
                      compute: Callable[[], Rows]) -> bool:
    """Compute an analysis unless the store already holds it for this exact `identity`.

    `compute` returns rows (model_id, params, metric, value); they and the unit's done-marker
    are committed in one transaction. Returns whether work was done.
    """
    uid = _analysis_uid(analysis, identity)
    if analysis_done(ctx, analysis, identity):
        return False
    rows = compute()
    ctx.store.commit_results(analysis, uid, [
        (mid, json.dumps(p, sort_keys=True), metric, _sql_float(value))
        for mid, p, metric, value in rows])
    return True
