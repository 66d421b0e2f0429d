"""The lottery-ticket section (after §4.3): best validation F1 against the weights remaining,
for IMP, its controls and one-shot pruning, per pair and width; the winning-ticket sparsity."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from lowcap.report.html import table
from lowcap.report.plotting import band, new_figure, save_figure
from lowcap.studies.base import ReportInput, Section
from lowcap.studies.tickets.compute import ANALYSIS, dense_plans, setting
from lowcap.studies.tickets.imp import METHODS
from lowcap.training import evaluated

LABELS = {"imp": "IMP (winning ticket)", "reinit": "same mask, random reinit",
          "random_mask": "random mask, same init", "oneshot": "one-shot, no fine-tuning",
          "oneshot_finetune": "one-shot + fine-tuning"}


def _dense_f1(inp: ReportInput, plans, every: int) -> dict[str, float]:
    """Each dense model's best validation F1 over the epochs a round evaluates (every
    `every`-th and the last), so that IMP and the dense model are compared alike."""
    trained_for = {p.model_id: p.hp.epochs for p in plans}
    metrics = inp.store.epoch_metrics(list(trained_for))
    out = {}
    for model_id, epochs in metrics.items():
        values = [e["val_f1"] for e in epochs if e["val_f1"] is not None
                  and evaluated(e["epoch"], trained_for[model_id], every)]
        if values:
            out[model_id] = max(values)
    return out


def _cell(seeds: dict[str, float], curves: dict[str, dict[str, dict[int, float]]],
          remaining: dict[int, list[float]]) -> dict:
    """One (pair, width): dense F1 per seed, per method the F1 per round (mean and per seed),
    the winning-ticket sparsity and the lottery-ticket criterion there."""
    rounds = sorted(remaining)
    dense = np.array(list(seeds.values()))
    cell = {"dense_f1_by_seed": seeds, "dense_f1": float(dense.mean()),
            "dense_std": float(dense.std()),
            "remaining": [float(np.mean(remaining[r])) for r in rounds], "f1": {},
            "f1_by_seed": {}}
    for method in METHODS:
        by_seed = {seed: [values.get(r, np.nan) for r in rounds]
                   for seed, values in curves.get(method, {}).items()}
        cell["f1_by_seed"][method] = by_seed
        with np.errstate(all="ignore"):
            cell["f1"][method] = np.nanmean(list(by_seed.values()), axis=0).tolist() \
                if by_seed else []
    imp = np.array(cell["f1"]["imp"], dtype=float)
    matches = [i for i, value in enumerate(imp) if value >= cell["dense_f1"] - cell["dense_std"]]
    winner = max(matches, key=lambda i: rounds[i]) if matches else None
    cell["winning_ticket_remaining"] = None if winner is None else cell["remaining"][winner]
    cell["lottery_ticket"] = None if winner is None else bool(
        imp[winner] > cell["f1"]["reinit"][winner]
        and imp[winner] > cell["f1"]["random_mask"][winner])
    return cell


def summary(inp: ReportInput) -> dict:
    """Summary key `tickets`: the setting and, per pair and width, the curves (see `_cell`)."""
    spec = inp.cfg.tickets
    plans = dense_plans(inp.cfg, inp.protocol)
    tag = setting(spec, inp.protocol.name)
    dense = _dense_f1(inp, plans, spec.evaluate_every)
    by_id = {p.model_id: p for p in plans if p.model_id in dense}
    curves: dict[tuple, dict] = defaultdict(lambda: defaultdict(dict))
    remaining: dict[tuple, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in inp.store.results(ANALYSIS):
        plan = by_id.get(row["model_id"])
        params = row["params"]
        if (plan is None or params["setting"] != tag or row["metric"] != "best_val_f1"
                or params["round"] > spec.rounds):
            continue
        key = (plan.pair_key, str(plan.hidden))
        value = np.nan if row["value"] is None else row["value"]
        curves[key][params["method"]].setdefault(str(plan.seed), {})[params["round"]] = value
        if params["method"] == "imp":
            remaining[key][params["round"]].append(params["remaining"])
    cells: dict[str, dict] = {}
    for key in sorted(curves):
        seeds = {str(p.seed): dense[p.model_id] for p in by_id.values()
                 if (p.pair_key, str(p.hidden)) == key}
        cells.setdefault(key[0], {})[key[1]] = _cell(seeds, curves[key], remaining[key])
    described = {k: v for k, v in spec.model_dump(mode="json").items() if k != "pairs"}
    return {"tickets": {"setting": described, "cells": cells}}


def _figure(cells: dict, folder: Path, protocol: str) -> Path | None:
    pairs = list(cells)
    widths = sorted({w for c in cells.values() for w in c}, key=int)
    if not pairs:
        return None
    fig, axes = new_figure(len(widths), 3.4, 2.8, nrows=len(pairs))
    for row, pair in enumerate(pairs):
        for col, width in enumerate(widths):
            ax = axes[row * len(widths) + col]
            cell = cells[pair].get(width)
            ax.set_title(f"{pair}, h = {width}", fontsize=8)
            if cell is None:
                continue
            x = 100 * np.array(cell["remaining"])
            for method in METHODS:
                runs = np.array(list(cell["f1_by_seed"][method].values()), dtype=float)
                if runs.size:
                    band(ax, x, runs, LABELS[method])
            ax.axhline(cell["dense_f1"], color="black", lw=0.8, ls="--", label="dense")
            ax.set_xscale("log")
            ticks = [t for t in (100, 50, 20, 10, 5, 2, 1, 0.5) if x.min() <= t <= x.max()]
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            ax.xaxis.set_minor_formatter("")  # no labels on the log axis' minor ticks
            ax.invert_xaxis()
            ax.set_xlabel("weights remaining (%)", fontsize=7)
            ax.set_ylabel("best val F1", fontsize=7)
    axes[0].legend(fontsize=6)
    return save_figure(fig, folder, f"figT1_tickets_{protocol}")


def report(inp: ReportInput) -> Section:
    """The curves figure, the winning-ticket table and what was run."""
    result = summary(inp)
    cells = result["tickets"]["cells"]
    if not cells:
        return Section()
    spec = inp.cfg.tickets
    figure = _figure(cells, inp.figures, inp.protocol.name)
    rows = []
    for pair, widths in cells.items():
        for width, c in widths.items():
            winner = c["winning_ticket_remaining"]
            rows.append([pair, width, c["dense_f1"], c["dense_std"],
                         "none" if winner is None else f"{100 * winner:.2f}%",
                         {None: "–", True: "yes", False: "no"}[c["lottery_ticket"]]])
    html = (
        "<h3>§4.3 continued: lottery tickets (iterative magnitude pruning with rewinding)</h3>"
        f"<p>Per dense model: {spec.rounds} rounds of pruning {spec.fraction:.0%} of the "
        f"remaining weights ({spec.scope}, w1 and w2, biases kept), each retraining from "
        + ("the initialisation" if spec.rewind_epoch == 0 else
           f"the weights after {spec.rewind_epoch} epochs (late rewinding)")
        + ". Controls each round: the same mask on a fresh initialisation, and a random mask "
        "with the same per-layer counts on the rewind point; and the trained dense model "
        "pruned once to the same sparsity, without and with the same number of epochs of "
        "fine-tuning. Training images per pair: "
        + ("all" if spec.train_size is None else str(spec.train_size))
        + f"; epochs per round: {spec.epochs or inp.cfg.epochs}, validation F1 after "
        + ("each" if spec.evaluate_every == 1 else
           f"every {spec.evaluate_every} and the last")
        + " (the best of those, for the dense models alike); the protocol's first "
        f"{spec.seeds} seeds. The winning-ticket sparsity is the sparsest round whose IMP "
        "mean best validation F1 is within the dense models' seed std of theirs; the "
        "lottery-ticket criterion asks whether IMP beats both controls there.</p>"
        + table(["pair", "width", "dense F1", "seed std", "winning ticket: weights left",
                 "beats both controls"], rows))
    return Section(result, [figure] if figure else [], html)
