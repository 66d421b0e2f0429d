"""Analyses computed once: a unit of analysis work is named by a hash of what determines it,
and its rows commit with its done-marker in one transaction, so a killed run resumes and a
changed setting recomputes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from lowcap.run.context import RunContext
from lowcap.run.store import sql_float

# An analysis's results: (model id, params, metric, value) per row.
Rows = list[tuple[str, dict, str, float]]


def _analysis_uid(analysis: str, identity: object) -> str:
    blob = json.dumps([analysis, identity], sort_keys=True, default=str).encode()
    return f"{analysis}-{hashlib.sha256(blob).hexdigest()[:16]}"


def analysis_done(ctx: RunContext, analysis: str, identity: object) -> bool:
    """Whether the store holds the analysis unit of this exact `identity`."""
    return _unit_done(ctx, _analysis_uid(analysis, identity))


def _unit_done(ctx: RunContext, uid: str) -> bool:
    unit = ctx.store.unit(uid)
    return unit is not None and bool(unit["done"])


def run_analysis_unit(ctx: RunContext, analysis: str, identity: object,
                      compute: Callable[[], Rows]) -> bool:
    """Compute an analysis unless the store already holds it for this exact `identity`.

    `compute` returns rows (model_id, params, metric, value); they and the unit's done-marker
    are committed in one transaction. Returns whether work was done.
    """
    uid = _analysis_uid(analysis, identity)
    if _unit_done(ctx, uid):
        return False
    rows = compute()
    ctx.store.commit_results(analysis, uid, [
        (mid, json.dumps(p, sort_keys=True), metric, sql_float(value))
        for mid, p, metric, value in rows])
    return True
