"""Lottery tickets as a resumable analysis: the dense models (trained and stored like any
other), the rewind point, then one analysis unit per round, each a cohort of every model's
IMP, control and one-shot variants. A round's trained IMP weights are kept as a store
artefact before its rows commit, so a resumed run continues from the last finished round."""

from __future__ import annotations

import hashlib
import json
import logging

from lowcap.errors import StoreError
from lowcap.models.cohort import Cohort
from lowcap.models.mlp import init_params
from lowcap.progress import progress
from lowcap.run.analysis_cache import Rows, analysis_done, run_analysis_unit
from lowcap.run.checkpoints import load_tensors, save_tensors
from lowcap.run.config import ProtocolConfig, RunConfig
from lowcap.run.context import RunContext
from lowcap.run.plan import ModelPlan, grid
from lowcap.run.runner import layout, train_plans, trained_models
from lowcap.studies.base import section
from lowcap.studies.pruning.methods import magnitude_round
from lowcap.studies.tickets.config import TicketsConfig
from lowcap.studies.tickets.imp import METHODS, Member, Params, kept_share, train_round
from lowcap.training import train_cohort

log = logging.getLogger(__name__)

ANALYSIS = "tickets"


def dense_plans(cfg: RunConfig, protocol: ProtocolConfig) -> list[ModelPlan]:
    """The dense models of the study under `protocol` (none without the section)."""
    spec = section(cfg, TicketsConfig)
    if spec is None:
        return []
    narrowed = protocol.model_copy(update={"seeds": protocol.seeds[: spec.seeds],
                                           "train_size": spec.train_size})
    run = cfg.model_copy(update={"epochs": spec.epochs}) if spec.epochs else cfg
    return grid(run, narrowed, spec.pairs, spec.widths, [cfg.lr])


def setting(spec: TicketsConfig, protocol: str) -> str:
    """A short hash naming what a row was computed under (the report reads only the current
    setting's rows). The number of rounds is left out: round r does not depend on it, so
    more rounds continue a finished study."""
    fields = spec.model_dump(mode="json", exclude={"rounds"})
    if fields["evaluate_every"] == 1:  # the default keeps the name of runs made before it
        del fields["evaluate_every"]
    blob = json.dumps([protocol, fields], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _rewind_points(ctx: RunContext, plans: list[ModelPlan], epochs: int) -> dict[str, Params]:
    """Each model's weights after `epochs` epochs of dense training (0: its initialisation),
    recomputed by training a cohort that far: the stored dense models keep only their end."""
    bank = ctx.bank_for(plans[0])
    if epochs == 0:
        return {p.model_id: init_params(p.hidden, p.seed, p.hp.init_spec, bank.input_dim,
                                        pair=p.pair, depth=p.hp.depth) for p in plans}
    lanes, lane_plans = layout(plans, ctx.split)
    hp = plans[0].hp
    cohort = Cohort(lanes, activation=hp.activation,  # type: ignore[arg-type]
                    device=bank.device, dtype=bank.images.dtype, input_dim=bank.input_dim,
                    depth=hp.depth)
    train_cohort(cohort, bank, epochs, hp.batch_size, precision=hp.matmul_precision,
                 budget=hp.budget_batch_size, evaluate_parts=())
    return {plan.model_id: cohort.model_params(g, i)
            for g, members in enumerate(lane_plans) for i, plan in enumerate(members)}


def _relative(name: str) -> str:
    return f"store/{name}.safetensors"


def _load(ctx: RunContext, name: str) -> dict[str, Params]:
    """Per-model parameters kept in a store artefact, checked against the size and sha256
    the store recorded when it was written (StoreError if it is not that file)."""
    out: dict[str, Params] = {}
    record = ctx.store.file_records().get(_relative(name))
    for name_key, value in load_tensors(ctx.store.artefact(name), record=record).items():
        model_id, key = name_key.split("/")
        out.setdefault(model_id, {})[key] = value
    return out


def _saved(ctx: RunContext, name: str, compute) -> dict[str, Params]:
    """Per-model parameters kept in a store artefact (they resume later rounds), computed and
    saved when absent, or when the file there is not the one recorded (dropped with a
    warning)."""
    path = ctx.store.artefact(name)
    if path.exists():
        try:
            return _load(ctx, name)
        except StoreError as exc:
            log.warning("%s; computing it again", exc)
    record = save_tensors(path, {f"{mid}/{key}": value for mid, params in compute().items()
                                 for key, value in params.items()})
    ctx.store.record_file(_relative(name), record)
    return _load(ctx, name)


def compute(ctx: RunContext, cfg, protocol: ProtocolConfig) -> bool:
    """Train the dense models (resuming), then every round not yet in the store."""
    spec: TicketsConfig = cfg.tickets
    plans = dense_plans(cfg, protocol)
    did_work = bool(train_plans(ctx, ANALYSIS, plans, cfg.snapshot_every))
    plans = [m.plan for m in trained_models(ctx.store, plans) if not m.diverged]
    if not plans:
        return did_work
    tag = setting(spec, protocol.name)
    trained = {p.model_id: {k: v.double().cpu() for k, v in ctx.load_params(p.model_id).items()}
               for p in plans}
    rewind = _saved(ctx, f"tickets-{tag}-rewind",
                    lambda: _rewind_points(ctx, plans, spec.rewind_epoch))
    masks = {mid: magnitude_round(params, None, spec.fraction, spec.scope)
             for mid, params in trained.items()}
    bank = ctx.bank_for(plans[0])
    bar = progress(spec.rounds, f"tickets {protocol.name} ({len(plans)} models × 4)",
                   ctx.quiet, unit="rounds")
    for round_ in range(1, spec.rounds + 1):
        identity = {"setting": tag, "round": round_, "models": sorted(trained)}
        members = [Member(p, trained[p.model_id], rewind[p.model_id], masks[p.model_id])
                   for p in plans]
        artefact = f"tickets-{tag}-round{round_:02d}"
        done = analysis_done(ctx, ANALYSIS, identity)
        imp_trained = _kept(ctx, artefact) if done else None
        if imp_trained is None:
            result = train_round(members, ctx.split, bank, spec.scope, spec.reinit_offset,
                                 spec.evaluate_every)
            imp_trained = _saved(ctx, artefact, lambda result=result: result.imp_trained)
            if not done:
                run_analysis_unit(ctx, ANALYSIS, identity, lambda round_=round_, members=members,
                                  result=result: _rows(tag, round_, members, result))
            did_work = True
        masks = {mid: magnitude_round({k: v.double().cpu() for k, v in params.items()},
                                      masks[mid], spec.fraction, spec.scope)
                 for mid, params in imp_trained.items()}
        bar.update(1)
    bar.close()
    return did_work


def _kept(ctx: RunContext, artefact: str) -> dict[str, Params] | None:
    """A finished round's IMP weights, if their artefact is there and is the file written
    (None otherwise: the round is trained again, with a warning where the file changed)."""
    if not ctx.store.artefact(artefact).exists():
        return None
    try:
        return _load(ctx, artefact)
    except StoreError as exc:
        log.warning("%s; training the round again", exc)
        return None


def _rows(tag: str, round_: int, members: list[Member], result) -> Rows:
    rows: Rows = []
    for member in members:
        model_id = member.plan.model_id
        params = {"setting": tag, "round": round_, "remaining": kept_share(member.mask)}
        rows += [(model_id, {**params, "method": method}, "best_val_f1",
                  result.best_val_f1[(model_id, method)]) for method in METHODS]
    return rows
