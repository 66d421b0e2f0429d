"""`lowcap report DIR`: figures, summary.json and report.html from the store alone."""

from __future__ import annotations

import json
from pathlib import Path

from lowcap import __version__
from lowcap.atomic import atomic_write_text
from lowcap.experiments.config import ExperimentConfig
from lowcap.experiments.store import Store
from lowcap.report.figures_training import capacity_figure, dynamics_figures, lr_figures
from lowcap.report.html import render_report
from lowcap.report.tables import capacity_table, lr_grid_table, phase_curves

DEFAULT_PROTOCOL = "corrected"


def build_report(out: Path, store: Store | None = None) -> dict:
    """Rebuild figures/, summary.json and report.html in `out`; returns the summary."""
    store = store or Store(out / "store" / "results.sqlite", create=False)
    cfg = ExperimentConfig.model_validate(store.get_meta("config"))
    figures = out / "figures"
    per_protocol: dict[str, dict] = {}
    sections: list[dict] = []
    for protocol in cfg.protocols:
        name = protocol.name
        result: dict = {}
        paths = []
        if cfg.lr_grid is not None:
            table = lr_grid_table(phase_curves(store, "lr_grid", name))
            result["lr_grid"] = table
            paths += lr_figures(table, figures, name)
        if cfg.capacity is not None:
            curves = phase_curves(store, "capacity", name)
            table = capacity_table(curves, cfg.capacity.min_f1, cfg.capacity.max_std)
            result["capacity"] = table
            paths.append(capacity_figure(table, figures, name, cfg.capacity.min_f1))
            paths += dynamics_figures(curves, figures, name, protocol.curves_split)
        per_protocol[name] = result
        sections.append({"protocol": protocol, "result": result, "figures": paths})
    timings = store.timings()
    summary = {
        "lowcap_version": __version__,
        "profile": cfg.profile,
        "device": store.get_meta("device"),
        "seconds": {"total": float(sum(timings.values())), **timings},
        "default_protocol": DEFAULT_PROTOCOL,
        **per_protocol.get(DEFAULT_PROTOCOL, next(iter(per_protocol.values()))),
        "protocols": per_protocol,
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    atomic_write_text(out / "report.html", render_report(cfg, summary, sections))
    return summary
