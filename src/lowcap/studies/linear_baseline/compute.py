"""The linear baseline as a resumable analysis: per pair (one split each), a logistic regression
fitted on the training split and scored on validation and test, and the exact separability
of the training split. Rows belong to the split (`split_id`), so runs, protocols and ablation
cells with the same split share them."""

from __future__ import annotations

import hashlib
import json
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from lowcap.concurrency import side_by_side
from lowcap.run.analysis_cache import Rows, analysis_done, run_analysis_unit
from lowcap.run.config import ProtocolConfig
from lowcap.run.context import RunContext
from lowcap.run.plan import ModelPlan
from lowcap.studies.linear_baseline.config import LinearConfig
from lowcap.studies.linear_baseline.separability import linearly_separable
from lowcap.studies.selection import Selection


def split_id(plan: ModelPlan) -> str:
    """The name of a plan's split in the linear rows."""
    key = json.dumps(plan.lane_key(), default=str).encode()
    return "split-" + hashlib.sha256(key).hexdigest()[:16]


def first_splits(plans: list[ModelPlan]) -> dict[str, ModelPlan]:
    """Per pair, the plan of its smallest seed (whose split the baseline uses)."""
    chosen: dict[str, ModelPlan] = {}
    for plan in plans:
        if plan.pair_key not in chosen or plan.seed < chosen[plan.pair_key].seed:
            chosen[plan.pair_key] = plan
    return chosen


def _measure(ctx: RunContext, spec: LinearConfig, plan: ModelPlan) -> Rows:
    split = ctx.split(plan)
    data = {part: [t.cpu().double().numpy() for t in ctx.analysis_bank(plan).inputs(split, part)]
            for part in ("train", "val", "test")}
    x, y = data["train"]
    with warnings.catch_warnings():  # an unconverged fit is still a baseline; noted below
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(C=spec.c, max_iter=spec.max_iter).fit(x, y)
    sid, params = split_id(plan), {"c": spec.c}
    rows: Rows = [(sid, params, "converged", float(model.n_iter_[0] < spec.max_iter)),
                  (sid, params, "train_accuracy", float(model.score(x, y)))]
    for part in ("val", "test"):
        px, py = data[part]
        rows.append((sid, params, f"{part}_f1", float(f1_score(py, model.predict(px)))))
    if spec.separability:
        answer = linearly_separable(x, y, (model.coef_[0], float(model.intercept_[0])),
                                    seed=plan.seed)
        rows.append((sid, {}, "separable", float(answer.separable)))
    return rows


def compute(ctx: RunContext, cfg, protocol: ProtocolConfig) -> bool:
    """The baseline of every pair the selection trains (one unit per split). The pairs run in
    threads, one per core (`side_by_side`): HiGHS and the BLAS release the GIL, and an LP uses
    one core."""
    spec = cfg.linear_baseline
    todo = []
    for plan in first_splits(Selection(spec.select).plans(cfg, protocol)).values():
        identity = {"split": split_id(plan), "c": spec.c, "max_iter": spec.max_iter,
                    "separability": spec.separability}
        if not analysis_done(ctx, "linear_baseline", identity):
            todo.append((plan, identity))
    if not todo:
        return False
    measured = side_by_side(lambda item: _measure(ctx, spec, item[0]), todo)
    for (_, identity), rows in zip(todo, measured, strict=True):
        run_analysis_unit(ctx, "linear_baseline", identity, lambda rows=rows: rows)
    return True
