"""Fig 0: every verdict in one picture, a forest plot of the claims check.

One row per claim and protocol: the deciding statistic's interval (and its point estimate:
the claim's effect where it states one, else the interval's middle) on the row's own axis,
the claim's threshold(s) as dashed lines, coloured by verdict, and near-threshold verdicts in
a colour of their own; rows grouped by the study that makes the claim. A verdict reached
without an interval (an exact count, missing data, or a rule that cannot read the data) shows
as a labelled empty row.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lowcap.report.claims import PAPER_PROTOCOLS
from lowcap.report.plotting import new_figure, save_figure

NAME = "fig0_verdicts"
COLOURS = {"holds": "#3c9d3c", "does not hold": "#d9534f", "inconclusive": "#8c8c8c",
           "negligible": "#e0b000", "near threshold": "#8e44ad"}
ROW_INCHES = 0.28


def verdict_rows(claims: list[dict], groups: dict[str, str]) -> list[dict]:
    """The claims in the figure's order: by group (in `groups`' order, then any other), then
    claim (first appearance), then protocol (reference, corrected, then the others)."""
    group_order = {g: i for i, g in enumerate(dict.fromkeys(groups.values()))}
    claim_order = {cid: i for i, cid in enumerate(dict.fromkeys(c["id"] for c in claims))}

    def key(c: dict) -> tuple:
        group = groups.get(c["id"], "other")
        protocol = (PAPER_PROTOCOLS.index(c["protocol"]) if c["protocol"] in PAPER_PROTOCOLS
                    else len(PAPER_PROTOCOLS))
        return (group_order.get(group, len(group_order)), claim_order[c["id"]], protocol,
                c["protocol"])

    return sorted(claims, key=key)


def colour_of(claim: dict) -> str:
    """The row's colour: its verdict's, or the near-threshold colour."""
    return COLOURS["near threshold" if claim.get("near_threshold") else claim["verdict"]]


def verdict_figure(claims: list[dict], groups: dict[str, str], folder: Path) -> Path | None:
    """Fig 0 (PNG + SVG in `folder`) of `claims` (summary.json's records); `groups` maps a
    claim id to its section's name. None without claims. Each row has its own scale (the
    statistics differ in unit): its interval and threshold(s) fill the row, the numbers at
    the interval's ends and the threshold are written beside them."""
    rows = verdict_rows(claims, groups)
    if not rows:
        return None
    lines: list[tuple[str, dict | None]] = []  # (label, claim; None: a group's heading)
    current = None
    for claim in rows:
        group = groups.get(claim["id"], "other")
        if group != current:
            lines.append((group, None))
            current = group
        lines.append((f"{claim['id']} · {claim['protocol']}", claim))
    fig, (ax,) = new_figure(width=11.0, height=ROW_INCHES * len(lines) + 0.8)
    for y, (_, claim) in enumerate(lines):
        if claim is not None:
            _row(ax, y, claim)
        elif y:
            ax.axhline(y - 0.5, color="#bbb", lw=0.6)
    ax.set_yticks(range(len(lines)), [label for label, _ in lines], fontsize=7)
    for tick, (_, claim) in zip(ax.get_yticklabels(), lines, strict=True):
        if claim is None:
            tick.set_fontweight("bold")
            tick.set_fontsize(8)
    ax.set_ylim(len(lines) - 0.5, -0.5)
    ax.set_xlim(-0.02, 1.32)
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title("Fig 0 · every verdict: interval (bar), estimate (dot), threshold (dashed), "
                 "each row on its own scale;\ngreen holds, red does not hold, grey "
                 "inconclusive, yellow negligible, purple near threshold", fontsize=9)
    return save_figure(fig, folder, NAME)


def _row(ax, y: int, claim: dict) -> None:
    colour = colour_of(claim)
    label = claim["verdict"] + (" (near threshold)" if claim.get("near_threshold") else "")
    ax.text(1.03, y, label, fontsize=7, va="center", color=colour, fontweight="bold")
    interval = claim.get("interval")
    if not interval or not all(_finite(v) for v in interval):
        ax.text(0.5, y, "no interval (an exact count, missing data, or a rule that cannot "
                "read the data)", fontsize=6, ha="center", va="center", color="#666")
        return
    lo, hi = interval
    effect = claim.get("effect")
    point = effect if _finite(effect) and lo <= effect <= hi else (lo + hi) / 2
    thresholds = [t for t in claim.get("threshold", []) if _finite(t)]
    values = [lo, hi, *thresholds]
    low, span = min(values), max(values) - min(values)

    def at(v: float) -> float:
        return 0.5 if span == 0 else 0.08 + 0.84 * (v - low) / span

    ax.hlines(y, at(lo), at(hi), color=colour, lw=6)
    ax.plot([at(point)], [y], "o", color="black", ms=3)
    for t in thresholds:
        ax.vlines(at(t), y - 0.42, y + 0.42, color="black", ls="--", lw=0.9)
        ax.text(at(t), y - 0.3, f"{t:.3g}", fontsize=5.5, ha="left", va="bottom")
    ax.text(at(lo) - 0.005, y, f"{lo:.3g}", fontsize=5.5, ha="right", va="center")
    ax.text(at(hi) + 0.005, y, f"{hi:.3g}", fontsize=5.5, ha="left", va="center")
def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and not np.isnan(value)
