"""A self-contained report.html: figures embedded as data URIs, no network needed."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from lowcap.report.claims import margin_text
from lowcap.run.config import RunConfig

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;
padding:.3em .6em;text-align:right}th{background:#f3f3f3}img{max-width:100%;display:block;
margin:1em 0}pre{background:#f7f7f7;padding:1em;overflow:auto}.proto{border-left:4px solid #369;
padding-left:1em;margin:2em 0}.near{color:#8a5300}"""


def image(path: Path) -> str:
    """A PNG embedded as a data URI."""
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def table(headers: list[str], rows: list[list[object]]) -> str:
    """An HTML table (floats to four decimals, everything escaped)."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


PAPER_PROFILES = ("paper", "paper-full")


def _banner(profile: str) -> str:
    """Under any other profile, the claims are the paper's rules applied to this run's models:
    a description of the run, not a test of the paper (a 15-update model can 'hold')."""
    if profile in PAPER_PROFILES:
        return ""
    return ("<p style='background:#fff3cd;padding:.6em;border:1px solid #e0c36c'><b>Profile "
            f"<code>{html.escape(profile)}</code>:</b> the verdicts below apply the paper's "
            "rules to this run's models. Only the <code>paper</code> and "
            "<code>paper-full</code> profiles run the paper's experiments, so only their "
            "verdicts say whether the paper's findings hold.</p>")


VERDICT_COLOURS = {"holds": "#d9f2d9", "does not hold": "#f8d7d7", "inconclusive": "#eee"}


def _claims_section(claims: list[dict]) -> str:
    """One row per claim, one verdict column (with its evidence) per protocol."""
    seen = {c["protocol"] for c in claims}
    protocols = [p for p in ("reference", "corrected") if p in seen] + sorted(
        seen - {"reference", "corrected"})
    by_claim: dict[str, dict] = {}
    for claim in claims:
        by_claim.setdefault(claim["id"], {"claim": claim})[claim["protocol"]] = claim
    head = "".join(f"<th>{html.escape(p)}</th>" for p in protocols)
    rows = []
    for entry in by_claim.values():
        first = entry["claim"]
        cells = []
        for p in protocols:
            c = entry.get(p)
            if c is None:
                cells.append("<td>—</td>")
                continue
            colour = VERDICT_COLOURS[c["verdict"]]
            near = ("<br><b class='near'>near threshold</b>" if c.get("near_threshold")
                    else "")
            cells.append(f"<td style='background:{colour};text-align:left'><b>"
                         f"{html.escape(c['verdict'])}</b>{near}<br><small>"
                         f"{html.escape(margin_text(c))}</small><br><small>"
                         f"{html.escape(c['measured'])}</small></td>")
        rows.append(f"<tr><td style='text-align:left'><b>{html.escape(first['id'])}</b><br>"
                    f"{html.escape(first['paper_says'])}<br><small>rule: "
                    f"{html.escape(first['rule'])}</small></td>{''.join(cells)}</tr>")
    return ("<h2>Claims check</h2><p>Each finding of the paper as a rule, evaluated under both "
            "protocols: <code>reference</code> (what the paper's public code does) and "
            "<code>corrected</code> (what its text implies). Each verdict gives its margin: "
            "how far the end of its deciding interval lies from the threshold, in the "
            "statistic's unit. Where the margin is within the statistic's numerical spread "
            "(how far it moves between CPUs, instruction sets and thread counts), the verdict "
            "is marked <b class='near'>near threshold</b>: another machine may say otherwise."
            "</p>"
            f"<table id='claims'><tr><th>claim</th>{head}</tr>{''.join(rows)}</table>")


def render_report(cfg: RunConfig, summary: dict, sections: list[dict], run_sections: list
                  ) -> str:
    """The report page: claims, protocol choices, per-protocol sections (each study's HTML,
    then its figures), run-wide study sections, then figures that do not depend on a
    protocol."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>lowcap report · "
             f"{html.escape(cfg.profile)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>lowcap report · profile <code>{html.escape(cfg.profile)}</code></h1>",
             f"<p>lowcap {summary['lowcap_version']}, device {summary['device']}, training "
             f"matmuls {html.escape(str(summary['train_matmul']))}, total compute time "
             f"{summary['seconds']['total']:.1f} s.</p>",
             _banner(cfg.profile), _claims_section(summary["claims"]),
             "<h2>Protocol</h2><details><summary>the resolved config.yaml (every default "
             "spelled out)</summary><pre>" + html.escape(cfg.to_yaml()) + "</pre></details>"]
    timing_rows = [[k, v] for k, v in summary["seconds"].items()]
    parts.append("<h2>Timings (s)</h2>" + table(["phase", "seconds"], timing_rows))
    for section in sections:
        protocol = section["protocol"]
        parts.append(f"<div class='proto'><h2>Protocol <code>{protocol.name}</code></h2>")
        draws = ("the paper code's own split and weight draws" if protocol.draws == "paper_code"
                 else "lowcap's split and weight draws")
        parts.append(f"<p>batch size {protocol.batch_size}, init {protocol.init}, balanced "
                     f"classes: {protocol.balance}, seeds {protocol.seeds}, curves on "
                     f"{protocol.curves_split} split; {draws}, trained in {protocol.dtype}.</p>")
        parts.extend(part.html for part in section["parts"])
        parts.extend(image(path) for part in section["parts"] for path in part.figures)
        parts.append("</div>")
    parts.extend(part.html for part in run_sections)
    shared_figures = [path for part in run_sections for path in part.figures]
    if shared_figures:
        parts.append("<h2>Figures shared by the protocols</h2>")
        parts.extend(image(path) for path in shared_figures)
    parts.append("</body></html>")
    return "\n".join(parts)
