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
from dataclasses import dataclass

import numpy as np
import torch

from lowcap.data.bank import ImageBank
from lowcap.data.tasks import TaskSplit
from lowcap.errors import StoreError
from lowcap.models.cohort import Cohort, Lane, ModelSpec
from lowcap.progress import progress
from lowcap.run.checkpoints import (
    RETRAIN,
    load_tensors_and_header,
    save_tensors,
)
from lowcap.run.context import RunContext
from lowcap.run.plan import ModelPlan
from lowcap.run.run_folder import owned_path
from lowcap.run.store import Store, sql_float
from lowcap.training.trainer import METRIC_NAMES, EpochResult, train_cohort

log = logging.getLogger(__name__)


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
    """Lanes (models sharing a split and batch order) and the plans of each lane, in order.
    A model trained on PGD inputs has a lane of its own (its inputs are its own), on the
    split and batch order of the lane it would share."""
    by_lane: dict[tuple, list[ModelPlan]] = defaultdict(list)
    for plan in sorted(plans, key=lambda p: (p.lane_key(), p.hidden, p.lr)):
        own = (plan.model_id,) if plan.hp.pgd is not None else ()
        by_lane[(*plan.lane_key(), *own)].append(plan)
    lanes, lane_plans = [], []
    for members in by_lane.values():
        first = members[0]
        specs = tuple(ModelSpec(p.hidden, p.lr, p.seed, p.hp.init_spec, p.hp.optimiser_spec)
                      for p in members)
        lanes.append(Lane(split_of(first), first.seed, specs, first.hp.augment))
        lane_plans.append(members)
    return lanes, lane_plans


TrainedParams = list[tuple[ModelPlan, dict[str, torch.Tensor], int]]  # (plan, params, diverged)


@dataclass
class UnitEpoch:
    """What one epoch of a unit gives its caller: the cohort after it, each model's divergence
    epoch so far (-1: none), the epoch's store rows and how many epochs are done."""

    cohort: Cohort
    diverged_epoch: np.ndarray
    rows: list[tuple]
    epochs_done: int


def train_unit(plans: list[ModelPlan], bank: ImageBank,
               split_of: Callable[[ModelPlan], TaskSplit], resume: dict | None = None,
               start: int = 0, on_epoch: Callable[[UnitEpoch], None] | None = None
               ) -> TrainedParams:
    """Train one unit (plans sharing a cohort key) as one cohort, from epoch `start` and the
    `resume` state when given, calling `on_epoch` after every epoch (where the caller keeps
    the rows, snapshots, shows progress). The one unit trainer of both executors: it needs no
    store. Returns each model's final parameters and divergence epoch (-1: none)."""
    lanes, lane_plans = layout(plans, split_of)
    hp = plans[0].hp
    cohort = Cohort(lanes, activation=hp.activation,  # type: ignore[arg-type]
                    device=bank.device, dtype=bank.images.dtype, input_dim=bank.input_dim,
                    depth=hp.depth, pgd=hp.pgd)
    diverged_epoch = np.full((cohort.n_lanes, cohort.max_models), -1, dtype=np.int64)
    if resume is not None:
        try:
            cohort.load_state(resume)
            diverged_epoch = resume["diverged_epoch"].cpu().numpy()
        except (KeyError, ValueError) as exc:  # before any epoch ran
            raise SnapshotError(f"the snapshot does not fit the unit ({exc})") from exc

    def epoch_done(cohort: Cohort, result: EpochResult) -> None:
        rows = record_epoch(lane_plans, result, diverged_epoch)
        if on_epoch is not None:
            on_epoch(UnitEpoch(cohort, diverged_epoch, rows, result.epoch + 1))

    train_cohort(cohort, bank, hp.epochs, hp.batch_size, start_epoch=start,
                 on_epoch=epoch_done, diverged=diverged_epoch >= 0,
                 precision=hp.matmul_precision, budget=hp.budget_batch_size,
                 evaluate_every=hp.evaluate_every)
    return [(plan, cohort.model_params(g, i), int(diverged_epoch[g, i]))
            for g, members in enumerate(lane_plans) for i, plan in enumerate(members)]


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
        bar = progress(first.hp.epochs, f"{study} {first.protocol} ({len(plans)} models)",
                       ctx.quiet, unit="epochs", initial=start)
        pending: list[tuple] = []  # epoch rows since the last snapshot, committed with the next

        def keep(epoch: UnitEpoch) -> None:
            pending.extend(epoch.rows)
            if epoch.epochs_done % snapshot_every == 0 or epoch.epochs_done == first.hp.epochs:
                _commit_snapshot(ctx, uid, epoch.cohort, epoch.diverged_epoch,
                                 epoch.epochs_done, pending)
                pending.clear()
            bar.update(1)

        try:
            return train_unit(plans, bank, ctx.split, resume, start, keep)
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
             *(sql_float(result.metrics[k][g, i]) for k in METRIC_NAMES))
            for g, members in enumerate(lane_plans) for i, plan in enumerate(members)]




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
        spec = json.dumps(plan.record())
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
