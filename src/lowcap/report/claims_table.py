"""The report's compact claims table: one line per claim, per protocol the verdict, its
interval and margin; the rule and the full evidence fold out (`<details>`, no scripts).

The paper's claims get one column per protocol that ran; a companion study's claims (a
protocol of their own, e.g. `companion-B`) get a table of their own, so no column is a
column of dashes.
"""

from __future__ import annotations

import html

from lowcap.report.claims import PAPER_PROTOCOLS, by_claim, claim_tables, margin_text

VERDICT_COLOURS = {"holds": "#d9f2d9", "does not hold": "#f8d7d7", "inconclusive": "#eee",
                   "negligible": "#fff3cd"}
DESCRIBED = {"reference": "<code>reference</code> (what the paper's public code does)",
             "corrected": "<code>corrected</code> (what its text implies)"}


def claims_tables(claims: list[dict]) -> str:
    """The claims section: a sentence on what the verdicts mean, the paper's claims under the
    protocols that ran, then each companion study's claims."""
    ran = [p for p in PAPER_PROTOCOLS if any(c["protocol"] == p for c in claims)]
    described = [DESCRIBED[p] for p in ran]
    under = (f"under {len(ran)} protocols: " + " and ".join(described) if len(ran) > 1
             else f"under one protocol, {described[0]}" if ran else "")
    parts = [f"<h2 id='claims-check'>Claims check</h2><p>Each finding as a rule, evaluated "
             f"{under}. A verdict is <i>holds</i>, <i>does not hold</i>, <i>inconclusive</i>, "
             "or <i>negligible</i> (the statistic supports it but the effect is smaller than "
             "the practical threshold). Beside it: the deciding interval and the margin, how "
             "far the interval's end lies from the threshold in the statistic's unit; a margin "
             "within the statistic's numerical spread (how far it moves between CPUs, "
             "instruction sets and thread counts) is marked <b class='near'>near "
             "threshold</b>: another machine may say otherwise. Click a claim for its rule, a "
             "verdict for its evidence.</p>"]
    for protocols, rows in claim_tables(claims):
        if protocols == ran:
            parts.append(_table(rows, protocols, "claims"))
        else:
            (protocol,) = protocols
            parts.append(f"<h3>Companion study <code>{html.escape(protocol)}</code></h3>")
            parts.append(_table(rows, protocols, f"claims-{protocol}"))
    return "".join(parts)


def _table(claims: list[dict], protocols: list[str], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(p)}</th>" for p in protocols)
    rows = []
    for by_protocol in by_claim(claims).values():
        first = next(iter(by_protocol.values()))
        cells = "".join(_cell(by_protocol.get(p)) for p in protocols)
        rows.append(f"<tr class='claim' id='claim-{html.escape(first['id'])}'>"
                    "<td style='text-align:left'><details><summary><b>"
                    f"{html.escape(first['id'])}</b>: {html.escape(first['paper_says'])}"
                    f"</summary><small>rule: {html.escape(first['rule'])}</small></details>"
                    f"</td>{cells}</tr>")
    return (f"<table class='claims' id='{html.escape(table_id)}'><tr><th>claim</th>{head}</tr>"
            + "".join(rows) + "</table>")


def _cell(claim: dict | None) -> str:
    if claim is None:
        return "<td>—</td>"
    near = " · <b class='near'>near threshold</b>" if claim.get("near_threshold") else ""
    interval = claim.get("interval")
    shown = (f"[{interval[0]:.3g}, {interval[1]:.3g}] · " if interval and None not in interval
             else "")
    words = shown + margin_text(claim)
    return (f"<td style='background:{VERDICT_COLOURS[claim['verdict']]};text-align:left'>"
            f"<details><summary><b>{html.escape(claim['verdict'])}</b>{near}"
            f"{'<br><small>' + html.escape(words) + '</small>' if words else ''}</summary>"
            f"<small>{html.escape(claim['measured'])}</small></details></td>")
