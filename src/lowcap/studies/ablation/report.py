"""The ablation's report section: every claim's verdict in every cell, the factors' main
effects, one generated sentence per claim, min capacity per cell, and the summary key
`ablation`."""

from __future__ import annotations

import html

from lowcap.report.claims import check_claims
from lowcap.report.html import table
from lowcap.report.tables import map_leaves
from lowcap.studies.ablation.design import Cell, analysis_studies, anchors, cells
from lowcap.studies.ablation.effects import CellResult, effects, explain
from lowcap.studies.ablation.figures import effects_figure, min_capacity_figure, verdict_figure
from lowcap.studies.base import ReportInput, Section

SHORT = {"holds": "✓", "does not hold": "✗", "inconclusive": "?", "negligible": "≈"}


def cell_entry(inp: ReportInput, cell: Cell) -> dict:
    """One cell's summary keys, verdicts, claim quantities, min capacity and separability."""
    studies = analysis_studies(inp.cfg.ablation)
    sub = ReportInput(inp.store, cell.cfg, inp.out, cell.protocol)
    summary: dict = {}
    for study in studies:
        summary.update(study.summary(sub))
    claims = [c for s in studies for c in s.claims]
    checked = check_claims(cell.name, summary, claims)
    numbers = map_leaves(summary, lambda v: float("nan") if v is None else v)
    capacity = summary.get("capacity", {})
    linear = summary.get("linear_baseline", {})
    return {
        "name": cell.name, "levels": cell.levels, "protocol": cell.protocol.name,
        "verdicts": {c["id"]: c["verdict"] for c in checked},
        "measured": {c["id"]: c["measured"] for c in checked},
        "quantities": {c.id: c.quantity(numbers) for c in claims if c.quantity is not None},
        "min_capacity": {p: e["min_hidden"] for p, e in capacity.items()},
        "best_f1": {p: e["f1_mean"] for p, e in capacity.items()},
        "separable": {p: e.get("separable") for p, e in linear.items()},
    }


def ablation_summary(inp: ReportInput) -> dict:
    """The summary key `ablation` (see docs/contract.md)."""
    spec = inp.cfg.ablation
    entries = [cell_entry(inp, cell) for cell in cells(inp.cfg)]
    results = [CellResult(e["levels"], e["verdicts"], e["quantities"]) for e in entries]
    factors = {f: list(levels) for f, levels in spec.varied().items()}
    claims = {c.id: c for s in analysis_studies(spec) for c in s.claims if c.quantity}
    explained = {}
    for claim_id, claim in claims.items():
        if not any(e["quantities"].get(claim_id) for e in entries):
            continue  # nothing measured in any cell (e.g. the reference code's fractions)
        found = effects(claim_id, factors, results)
        explained[claim_id] = {"measures": claim.measures, "effects": found,
                               "explanation": explain(claim_id, claim.measures, found, results)}
    return {"base": spec.base, "protocol": spec.protocol, "pairs": spec.pair_keys(),
            "widths": list(spec.widths), "factors": factors,
            "levels": {f: dict(levels) for f, levels in spec.varied().items()},
            "fixed": spec.fixed(),
            "cells": entries, "anchors": [cell_entry(inp, a) for a in anchors(inp.cfg)],
            "claims": explained}


def run_report(inp: ReportInput) -> Section:
    """The section: design, explanations, verdict grid, main effects, min capacity."""
    result = ablation_summary(inp)
    if not any(e["best_f1"] for e in result["cells"]):
        return Section()
    claim_ids = list(result["claims"])
    everything = result["cells"] + result["anchors"]
    figures = [verdict_figure(everything, claim_ids, inp.figures),
               effects_figure(result["claims"], inp.figures),
               min_capacity_figure(everything, result["pairs"], inp.figures)]
    return Section({"ablation": result}, figures, _html(result, claim_ids, everything))


def _design_text(result: dict) -> str:
    levels = "; ".join(
        f"<b>{html.escape(f)}</b>: " + " vs ".join(
            f"{html.escape(lv)} (<code>{_fields(fields)}</code>)"
            for lv, fields in result["levels"][f].items())
        for f in result["factors"])
    fixed = (f" In every cell and anchor: <code>{_fields(result['protocol'])}</code>."
             if result["protocol"] else "")
    if result["fixed"]:
        fixed += f" Not varied: <code>{_fields(result['fixed'])}</code>."
    return (f"<p>A full factorial design: {len(result['cells'])} cells, each the "
            f"<code>{result['base']}</code> protocol with every factor at one level ({levels})."
            f"{fixed} Grid: pairs {', '.join(result['pairs'])}; widths "
            f"{', '.join(map(str, result['widths']))}. Each cell is an ordinary protocol "
            "(same store, hashing and resume; a model two cells share is trained once), "
            "measured by the same analyses and claim rules as the protocols above. A "
            "factor's <i>main effect</i> on a claim compares the cells that differ in that "
            "factor alone: how many of those comparisons change the verdict, and the mean "
            "change of the claim's measured quantity (second level minus first) with a 95% "
            "bootstrap interval over seeds. The anchors are the run's own protocols on the "
            "same grid.</p>")


def _html(result: dict, claim_ids: list[str], everything: list[dict]) -> str:
    sentences = "".join(f"<li>{html.escape(result['claims'][c]['explanation'])}</li>"
                        for c in claim_ids)
    rows = [[e["name"], e["protocol"], *(SHORT[e["verdicts"].get(c, "inconclusive")]
                                         for c in claim_ids)] for e in everything]
    caps = [[e["name"], *(_shown(e["min_capacity"].get(p)) for p in result["pairs"])]
            for e in everything]
    separable = result["anchors"][0]["separable"] if result["anchors"] else {}
    sep_note = "; ".join(f"{p}: {'separable' if s else 'not separable'}"
                         for p, s in separable.items() if s is not None)
    return ("<h2>Protocol ablation: why the findings appear</h2>" + _design_text(result)
            + f"<ul>{sentences}</ul>"
            + "<h3>Verdicts per cell (✓ holds, ✗ does not hold, ? inconclusive)</h3>"
            + table(["cell", "protocol", *claim_ids], rows)
            + "<h3>Minimum capacity per cell ('none': no width meets the rule)</h3>"
            + (f"<p>Linear separability of each pair's training split (first anchor): "
               f"{sep_note}. Where a pair is separable, one linear unit fits it and its "
               "'minimum capacity' reflects optimisation and the F1 threshold, not "
               "representational need.</p>" if sep_note else "")
            + table(["cell", *result["pairs"]], caps))


def _fields(fields: dict) -> str:
    """Config fields as a reader writes them: 'batch_size: full, init_std: 0.1'."""
    return html.escape(", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}"
                                 for k, v in fields.items()))


def _shown(value) -> str:
    return "none" if value is None else str(value)
