"""The CNN baseline's section: F1 against parameters for the CNNs and the MLPs of the same
pairs, each family's minimum capacity under the capacity study's rule."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from lowcap.data import pair_key
from lowcap.report.html import table
from lowcap.report.plotting import new_figure, save_figure
from lowcap.studies.base import ReportInput, Section, section
from lowcap.studies.capacity.config import CapacityConfig
from lowcap.studies.capacity.report import summary as capacity_summary
from lowcap.studies.capacity.statistics import meets_rule
from lowcap.studies.cnn_baseline.compute import ANALYSIS, model_id, setting
from lowcap.studies.cnn_baseline.network import mlp_parameter_count, parameter_count

DEFAULT_RULE = (0.90, 0.02)  # min F1, max seed std: the capacity study's defaults


def _rule(inp: ReportInput) -> tuple[float, float]:
    spec = section(inp.cfg, CapacityConfig)
    return DEFAULT_RULE if spec is None else (spec.min_f1, spec.max_std)


def _cells(inp: ReportInput) -> dict[str, dict[str, dict]]:
    """pair → channels → metric → seed → value, from the current setting's rows."""
    spec = inp.cfg.cnn_baseline
    tag = setting(spec, inp.protocol.name)
    owners = {model_id(inp.protocol.name, pair, seed): (pair_key(pair), str(seed))
              for pair in spec.pairs for seed in inp.protocol.seeds}
    cells: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for row in inp.store.results(ANALYSIS):
        params = row["params"]
        if (row["model_id"] in owners and params.get("setting") == tag
                and params["channels"] in spec.channels):
            pair, seed = owners[row["model_id"]]
            value = np.nan if row["value"] is None else row["value"]
            cells[pair][str(params["channels"])][row["metric"]][seed] = value
    return cells


def summary(inp: ReportInput) -> dict:
    """Summary key `cnn_baseline`: per pair and width the parameters and F1 (best validation
    and final test, means over seeds, and per seed), each family's minimum capacity under the
    capacity rule, in its own unit and in parameters."""
    spec = inp.cfg.cnn_baseline
    min_f1, max_std = _rule(inp)
    mlp = capacity_summary(inp)["capacity"] if section(inp.cfg, CapacityConfig) else {}
    depth = inp.protocol.depth if inp.protocol is not None else 1
    pairs: dict = {}
    for pair, widths in _cells(inp).items():
        entry: dict = {"widths": {}, "min_channels": None}
        for c in sorted(widths, key=int):
            by_seed = widths[c].get("best_val_f1", {})
            values = np.array(list(by_seed.values()), dtype=float)
            entry["widths"][c] = {
                "parameters": parameter_count(int(c)), "f1": float(np.nanmean(values)),
                "f1_std": float(np.nanstd(values)), "f1_by_seed": by_seed,
                "test_f1": float(np.nanmean(list(widths[c].get("test_f1", {}).values())))}
            if entry["min_channels"] is None and meets_rule(values, min_f1, max_std):
                entry["min_channels"] = int(c)
        entry["min_parameters"] = (None if entry["min_channels"] is None
                                   else parameter_count(entry["min_channels"]))
        reference = mlp.get(pair, {})
        hidden = reference.get("min_hidden")
        entry["mlp"] = {
            "min_hidden": hidden,
            "min_parameters": None if hidden is None else mlp_parameter_count(hidden, depth),
            "f1_by_parameters": {str(mlp_parameter_count(int(h), depth)): f1
                                 for h, f1 in reference.get("f1_mean", {}).items()}}
        pairs[pair] = entry
    return {"cnn_baseline": {"rule": {"min_f1": min_f1, "max_std": max_std},
                             "setting": spec.model_dump(mode="json"), "pairs": pairs}}


def answer(section: dict) -> str:
    """Each family's minimum capacity, in parameters, in words."""
    def capacity(parameters: int | None, width: int | None, knob: str) -> str:
        return "no width" if parameters is None else f"{parameters:,} ({knob} = {width})"

    parts = [f"{pair}: CNN {capacity(e['min_parameters'], e['min_channels'], 'c')}, MLP "
             f"{capacity(e['mlp']['min_parameters'], e['mlp']['min_hidden'], 'h')}"
             for pair, e in section["pairs"].items()]
    return ("Minimum capacity in parameters (the smallest width whose best validation F1 is "
            f"above {section['rule']['min_f1']} for every seed with seed std below "
            f"{section['rule']['max_std']}): " + "; ".join(parts) + ".")


def _figure(section: dict, folder: Path, protocol: str) -> Path:
    fig, (ax,) = new_figure()
    for pair, entry in section["pairs"].items():
        widths = entry["widths"].values()
        line, = ax.plot([w["parameters"] for w in widths], [w["f1"] for w in widths],
                        "-o", label=f"CNN {pair}")
        mlp = sorted((int(p), f1) for p, f1 in entry["mlp"]["f1_by_parameters"].items())
        if mlp:
            ax.plot(*zip(*mlp, strict=True), "--s", color=line.get_color(), label=f"MLP {pair}")
    ax.axhline(section["rule"]["min_f1"], color="k", ls=":", lw=0.8)
    ax.set_xscale("log")
    ax.set(xlabel="parameters", ylabel="best validation F1",
           title=f"Capacity curves: CNN vs MLP ({protocol})")
    ax.legend(fontsize=7)
    return save_figure(fig, folder, f"figC1_cnn_vs_mlp_{protocol}")


def report(inp: ReportInput) -> Section:
    """The per-width table, the figure and the answer."""
    result = summary(inp)
    section = result["cnn_baseline"]
    if not section["pairs"]:
        return Section()
    s = section["setting"]
    rows = [[pair, c, w["parameters"], w["f1"], w["f1_std"], w["test_f1"]]
            for pair, entry in section["pairs"].items() for c, w in entry["widths"].items()]
    html = ("<h3>§4.2 for a second architecture: a LeNet-like CNN</h3><p>Two 5×5 convolutions "
            "(c and 2c channels, ReLU, 2×2 max-pooling) and a linear readout, trained with "
            f"plain SGD (learning rate {s['lr']}, batch {s['batch_size']}, {s['epochs']} "
            f"epochs, float32) on {s['train_size'] or 'all'} training images of each "
            "protocol's split; the MLP curve is the capacity study's (the protocol's own "
            f"training). {answer(section)}</p>"
            + table(["pair", "channels c", "parameters", "best val F1", "seed std",
                     "test F1"], rows))
    return Section(result, [_figure(section, inp.figures, inp.protocol.name)], html)
