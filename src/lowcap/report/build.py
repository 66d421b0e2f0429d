"""`lowcap report DIR`: figures, summary.json and report.html from the store alone."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import warnings
from pathlib import Path

from lowcap import __version__
from lowcap.atomic import atomic_write_text
from lowcap.errors import StoreError
from lowcap.experiments.analysis_phases import (
    CORRUPTION_EXAMPLE,
    pruning_methods,
    robustness_settings,
)
from lowcap.experiments.checkpoints import RETRAIN, load_tensors
from lowcap.experiments.config import ExperimentConfig, ProtocolConfig
from lowcap.experiments.phases import phase_plans
from lowcap.experiments.run_folder import STORE_FILE, check_writable, require_run_folder
from lowcap.experiments.rundir import damaged_checkpoints
from lowcap.experiments.store import Store
from lowcap.report import figures_analyses as fa
from lowcap.report import figures_robustness as fr
from lowcap.report.claims import check_claims
from lowcap.report.figures_training import capacity_figure, dynamics_figures, lr_figures
from lowcap.report.html import PAPER_OCCLUSION, render_report
from lowcap.report.narrow import narrow_claims, narrow_figures, narrow_summary
from lowcap.report.plotting import figure_workers
from lowcap.report.sensitivity import (
    sensitivity_claims,
    sensitivity_figure,
    sensitivity_summary,
)
from lowcap.report.tables import capacity_table, lr_grid_table, map_leaves, phase_curves
from lowcap.report.tables_analyses import (
    dead_neuron_rows,
    pruning_table,
    robustness_summary,
    robustness_table,
    rounding_spread,
    saliency_intervals,
    saliency_scores,
    tsne_intervals,
    tsne_scores,
)

DEFAULT_PROTOCOL = "corrected"
log = logging.getLogger(__name__)



def _protocol_section(store: Store, cfg: ExperimentConfig, protocol: ProtocolConfig,
                      out: Path) -> tuple[dict, list[Path]]:
    """One protocol's numbers (summary keys) and figures."""
    name, figures = protocol.name, out / "figures"
    result: dict = {}
    paths: list[Path] = []
    if cfg.lr_grid is not None:
        table = lr_grid_table(phase_curves(store, phase_plans(cfg, "lr_grid", protocol)))
        result["lr_grid"] = table
        paths += lr_figures(table, figures, name)
    capacity_plans = phase_plans(cfg, "capacity", protocol)
    if cfg.capacity is not None:
        curves = phase_curves(store, capacity_plans)
        table = capacity_table(curves, cfg.capacity.min_f1, cfg.capacity.max_std)
        result["capacity"] = table
        paths.append(capacity_figure(table, figures, name, cfg.capacity.min_f1))
        paths += dynamics_figures(curves, figures, name, protocol.curves_split)
    if cfg.pruning is not None:
        by_method = pruning_table(store, capacity_plans, cfg.pruning.levels,
                                  pruning_methods(cfg, protocol))
        layerwise = by_method.get("layerwise") or by_method.get("layerwise_nearest", {})
        result["pruning"] = {pair: {h: {lv: {"f1": e["f1"], "pct_change_f1": e["pct_change_f1"],
                                             "achieved_sparsity": e["achieved_sparsity"]}
                                        for lv, e in levels.items()}
                                    for h, levels in widths.items()}
                             for pair, widths in layerwise.items()}
        result["pruning_methods"] = by_method
        result["pruning_rounding_spread"] = rounding_spread(by_method)
        paths += fa.pruning_figures(layerwise, figures, name)
        focus = cfg.tsne.pair if cfg.tsne else None
        pair = f"{focus[0]}-{focus[1]}" if focus else next(iter(layerwise), None)
        hidden = str(cfg.tsne.hidden) if cfg.tsne else None
        if pair and hidden:
            path = fa.methods_figure(by_method, pair, hidden, figures, name)
            paths += [path] if path else []
    if cfg.dead_neurons is not None:
        rows = dead_neuron_rows(store, capacity_plans, cfg.dead_neurons.level)
        chosen = {(f"{p[0]}-{p[1]}", h) for p, h in cfg.dead_neurons.models}
        result["dead_neurons"] = [r for r in rows if (r["pair"], r["hidden"]) in chosen]
        result["dead_neurons_all"] = rows
        path = fa.dead_neurons_figure(result["dead_neurons"], figures, name)
        paths += [path] if path else []
    if cfg.tsne is not None:
        scores = tsne_scores(store, capacity_plans, cfg.tsne.level)
        result["tsne"] = scores
        result["tsne_agreement"] = tsne_intervals(
            out / "store" / f"tsne-{name}.safetensors", cfg.tsne.level)
        path = fa.tsne_figure(out / "store", scores, figures, name)
        paths += [path] if path else []
    if cfg.robustness is not None:
        plans = [p for p in capacity_plans if p.pair == cfg.robustness.pair]
        table = robustness_table(store, plans, {
            (name, parameter, severity)
            for name, parameter, severity in robustness_settings(cfg.robustness)})
        if table:
            pair = plans[0].pair_key
            result["robustness"] = robustness_summary(table, pair)
            paths.append(fr.gaussian_figure(table["gaussian"], figures, name))
            paths.append(fr.occlusion_figure(table["occlusion"], figures, name,
                                             PAPER_OCCLUSION if pair == "4-9" else {}))
            path = fr.mnist_c_figure(table, figures, name)
            paths += [path] if path else []
    if cfg.saliency is not None:
        result["saliency"] = saliency_scores(store, capacity_plans, cfg.saliency.level)
        if "magnitude" in result["saliency"]:
            result["saliency"]["magnitude"].update(saliency_intervals(
                out / "store" / f"saliency-{name}.safetensors"))
        paths += fr.saliency_figures(out / "store", figures, name)
    return result, paths


def build_report(out: Path, store: Store | None = None, parallel: bool = False) -> dict:
    """Rebuild figures/, summary.json and report.html in `out`; returns the summary.

    `parallel` renders the figures in worker processes (spawned: a calling script needs the
    usual `if __name__ == "__main__":` guard, so it is off by default; the CLI turns it on)."""
    require_run_folder(out)
    check_writable(out)
    store = store or Store(out / STORE_FILE, read_only=True)
    stored = store.get_meta("config")
    if stored is None:
        raise StoreError(f"{store.path}: the store holds no run yet (killed before its first "
                         "commit?); run `lowcap reproduce --out DIR` to start it again")
    cfg = ExperimentConfig.model_validate(stored)
    damaged = damaged_checkpoints(store, out)
    for reason in damaged.values():
        log.warning("checkpoint %s; %s", reason, RETRAIN)
    workers = figure_workers() if parallel else contextlib.nullcontext()
    with workers, warnings.catch_warnings():  # every figure is on disk before the page
        # NumPy's "mean of empty slice" where every seed of a cell diverged: shown as NaN.
        warnings.simplefilter("ignore", RuntimeWarning)
        summary, sections, shared = _summary_and_figures(store, cfg, out)
    strict = map_leaves(summary, _null_if_not_finite)
    atomic_write_text(out / "summary.json",
                      json.dumps(strict, indent=2, sort_keys=True, allow_nan=False) + "\n")
    atomic_write_text(out / "report.html", render_report(cfg, summary, sections, shared))
    return summary


def _summary_and_figures(store: Store, cfg: ExperimentConfig, out: Path
                         ) -> tuple[dict, list[dict], list[Path]]:
    """The summary, each protocol's section (results and figure paths) and the shared figures."""
    per_protocol: dict[str, dict] = {}
    sections: list[dict] = []
    for protocol in cfg.protocols:
        result, paths = _protocol_section(store, cfg, protocol, out)
        result["claims"] = check_claims(protocol.name, result)
        per_protocol[protocol.name] = result
        sections.append({"protocol": protocol, "result": result, "figures": paths})
    example = out / "store" / CORRUPTION_EXAMPLE
    shared = ([fr.corruption_examples(load_tensors(example)["image"], out / "figures",
                                      cfg.robustness.seed)]
              if cfg.robustness is not None and example.is_file() else [])
    extra: dict = {}
    if cfg.sensitivity is not None:
        extra["sensitivity"] = sensitivity_summary(store, cfg.sensitivity)
        extra_claims = sensitivity_claims(extra["sensitivity"])
        figure = sensitivity_figure(store, out / "figures")
        shared += [figure] if figure else []
    else:
        extra_claims = []
    if cfg.narrow is not None:
        extra["narrow"] = narrow_summary(store)
        extra_claims += narrow_claims(extra["narrow"])
        shared += narrow_figures(store, extra["narrow"], out / "figures")
    timings = store.timings()
    default = DEFAULT_PROTOCOL if DEFAULT_PROTOCOL in per_protocol else next(iter(per_protocol))
    summary = {
        "lowcap_version": __version__,
        "profile": cfg.profile,
        "device": store.get_meta("device"),
        "train_matmul": store.get_meta("train_matmul"),
        "seconds": {"total": float(sum(timings.values())), **timings},
        "default_protocol": default,
        **{k: v for k, v in per_protocol[default].items()
           if k in ("lr_grid", "capacity", "pruning", "dead_neurons", "robustness",
                    "saliency")},
        "protocols": per_protocol,
        "claims": [c for name in per_protocol for c in per_protocol[name]["claims"]]
        + extra_claims,
        **extra,
    }
    return summary, sections, shared



def _null_if_not_finite(value):
    """NaN and infinities (numbers that could not be computed) as null: strict JSON."""
    return None if isinstance(value, float) and not math.isfinite(value) else value
