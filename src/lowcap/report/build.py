"""`lowcap report DIR`: figures, summary.json and report.html from the store alone."""

from __future__ import annotations

import contextlib
import json
import logging
import math
from pathlib import Path

from lowcap import __version__
from lowcap.atomic import atomic_write_text
from lowcap.ops import empty_cells_quiet
from lowcap.report.claims import check_claims
from lowcap.report.html import render_report
from lowcap.report.plotting import figure_workers, figures_not_drawn
from lowcap.report.tables import map_leaves
from lowcap.report.verdict_figure import verdict_figure
from lowcap.run.checkpoints import RETRAIN
from lowcap.run.run_folder import STORE_FILE, check_writable, require_run_folder
from lowcap.run.rundir import damaged_checkpoints
from lowcap.run.store import Store
from lowcap.studies.base import ReportInput
from lowcap.studies.registry import configured, stored_config

DEFAULT_PROTOCOL = "corrected"
log = logging.getLogger(__name__)


def build_report(out: Path, store: Store | None = None, parallel: bool = False) -> dict:
    """Rebuild figures/, summary.json and report.html in `out`; returns the summary.

    `parallel` renders the figures in worker processes (spawned: a calling script needs the
    usual `if __name__ == "__main__":` guard, so it is off by default; the CLI turns it on)."""
    require_run_folder(out)
    check_writable(out)
    store = store or Store(out / STORE_FILE, read_only=True)
    cfg = stored_config(store)
    damaged = damaged_checkpoints(store, out)
    for reason in damaged.values():
        log.warning("checkpoint %s; %s", reason, RETRAIN)
    workers = figure_workers() if parallel else contextlib.nullcontext()
    with workers, empty_cells_quiet():  # every figure is on disk before the page
        summary, sections, run_sections, groups = _summary_and_figures(store, cfg, out)
        verdicts = verdict_figure(summary["claims"], groups, out / "figures")
    atomic_write_text(out / "summary.json", _summary_json(summary))
    atomic_write_text(out / "report.html",
                      render_report(cfg, summary, sections, run_sections, verdicts))
    return summary


def summarize(out: Path) -> dict:
    """What `lowcap report` writes to summary.json (as JSON reads it back: a number that could
    not be computed is None), from the store in `out` alone; it draws and writes nothing, so
    it takes seconds less than the report and works on a folder it may not write."""
    require_run_folder(out)
    store = Store(out / STORE_FILE, read_only=True)
    try:
        with figures_not_drawn(), empty_cells_quiet():
            summary = _summary_and_figures(store, stored_config(store), out)[0]
    finally:
        store.close()
    return json.loads(_summary_json(summary))


def _summary_json(summary: dict) -> str:
    """summary.json's text: strict JSON (NaN and infinities as null), keys sorted."""
    strict = map_leaves(summary, _null_if_not_finite)
    return json.dumps(strict, indent=2, sort_keys=True, allow_nan=False) + "\n"


def _summary_and_figures(store: Store, cfg, out: Path
                         ) -> tuple[dict, list[dict], list, dict[str, str]]:
    """The summary, each protocol's sections (every configured study's report, its claims
    checked on the protocol's summary), the run-wide sections, and which study makes each
    claim (claim id → study name, in the registry's order: Fig 0's groups)."""
    studies = configured(cfg)
    per_protocol: dict[str, dict] = {}
    sections: list[dict] = []
    for protocol in cfg.protocols:
        inp = ReportInput(store, cfg, out, protocol)
        parts = [study.report(inp) for study in studies if study.report is not None]
        result = {key: value for part in parts for key, value in part.summary.items()}
        result["claims"] = check_claims(protocol.name, result,
                                        [c for study in studies for c in study.claims])
        per_protocol[protocol.name] = result
        sections.append({"protocol": protocol, "parts": parts})
    run_studies = [study for study in studies if study.run_report is not None]
    run_sections = [study.run_report(ReportInput(store, cfg, out)) for study in run_studies]
    groups = {claim.id: study.name for study in studies for claim in study.claims}
    groups |= {c["id"]: study.name for study, part in zip(run_studies, run_sections, strict=True)
               for c in part.claims}
    timings = store.timings()
    default = DEFAULT_PROTOCOL if DEFAULT_PROTOCOL in per_protocol else next(iter(per_protocol))
    headline = {key for study in studies for key in study.headline}
    summary = {
        "lowcap_version": __version__,
        "profile": cfg.profile,
        "device": store.get_meta("device"),
        "train_matmul": store.get_meta("train_matmul"),
        "seconds": {"total": float(sum(timings.values())), **timings},
        "models": len(store.all_models()),
        "default_protocol": default,
        **{k: v for k, v in per_protocol[default].items() if k in headline},
        "protocols": per_protocol,
        "claims": [c for name in per_protocol for c in per_protocol[name]["claims"]]
        + [c for part in run_sections for c in part.claims],
        **{k: v for part in run_sections for k, v in part.summary.items()},
    }
    return summary, sections, run_sections, groups


def _null_if_not_finite(value):
    """NaN and infinities (numbers that could not be computed) as null: strict JSON."""
    return None if isinstance(value, float) and not math.isfinite(value) else value
