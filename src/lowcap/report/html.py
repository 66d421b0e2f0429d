"""A self-contained report.html: figures embedded as data URIs, no network needed."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from lowcap.report.claims_table import claims_tables
from lowcap.run.config import RunConfig

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;
padding:.3em .6em;text-align:right}th{background:#f3f3f3}img{max-width:100%;display:block;
margin:1em 0}pre{background:#f7f7f7;padding:1em;overflow:auto}.proto{border-left:4px solid #369;
padding-left:1em;margin:2em 0}.near{color:#8a5300}"""


def image(path: Path, extra: str = "") -> str:
    """A PNG embedded as a data URI, anchored by its name (`#fig-<name>`)."""
    data = base64.b64encode(path.read_bytes()).decode()
    name = html.escape(path.stem)
    return (f'<img id="fig-{name}" alt="{name}" title="{name}"{extra} '
            f'src="data:image/png;base64,{data}">')


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


def render_report(cfg: RunConfig, summary: dict, sections: list[dict], run_sections: list,
                  verdicts: Path | None = None) -> str:
    """The report page. First screen: the run's facts, Fig 0 (`verdicts`: every verdict in one
    picture) and the paper-vs-lowcap headline numbers; then the compact claims table, the
    protocol, and per protocol each study's section (its HTML, then its figures), the
    run-wide sections, and figures that do not depend on a protocol. A contents line links
    every section."""
    claims = summary["claims"]
    facts = (f"<p>lowcap {summary['lowcap_version']} · device {summary['device']} · training "
             f"matmuls {html.escape(str(summary['train_matmul']))} · "
             f"{summary.get('models', '?')} models · protocols "
             f"{', '.join(s['protocol'].name for s in sections) or 'none'} · total compute "
             f"time {summary['seconds']['total']:.1f} s · {len(claims)} verdicts.</p>")
    body = [_banner(cfg.profile)]
    if verdicts is not None:
        body.append(image(verdicts, f' data-rows="{len(claims)}"')
                    + "<p><small>Fig 0: one row per claim and protocol, each on its own scale. "
                    "A bar clear of its dashed threshold is a decided verdict; a purple bar is "
                    "near threshold (another CPU may decide otherwise); a row without a bar was "
                    "decided by an exact count or could not be read. The table below gives "
                    "each row's numbers and evidence.</small></p>")
    headlines = [(s["protocol"].name, part.headline) for s in sections for part in s["parts"]
                 if part.headline]
    if headlines:
        body.append("<h2 id='headline'>The paper's numbers beside this run's</h2>"
                    + "".join(f"<h4>{html.escape(name)}</h4>{text}"
                              for name, text in headlines))
    body.append(claims_tables(claims))
    body.append("<h2 id='protocol'>Protocol</h2><details><summary>the resolved config.yaml "
                "(every default spelled out)</summary><pre>" + html.escape(cfg.to_yaml())
                + "</pre></details>")
    body.append("<h2 id='timings'>Timings (s)</h2>"
                + table(["phase", "seconds"], [[k, v] for k, v in summary["seconds"].items()]))
    contents = [("claims-check", "claims"), ("protocol", "protocol"), ("timings", "timings")]
    if headlines:
        contents.insert(0, ("headline", "paper vs this run"))
    for section in sections:
        protocol = section["protocol"]
        anchor = f"protocol-{protocol.name}"
        contents.append((anchor, f"protocol {protocol.name}"))
        body.append(f"<div class='proto' id='{html.escape(anchor)}'><h2>Protocol "
                    f"<code>{protocol.name}</code></h2>")
        draws = ("the paper code's own split and weight draws" if protocol.draws == "paper_code"
                 else "lowcap's split and weight draws")
        body.append(f"<p>batch size {protocol.batch_size}, init {protocol.init}, balanced "
                    f"classes: {protocol.balance}, seeds {protocol.seeds}, curves on "
                    f"{protocol.curves_split} split; {draws}, trained in {protocol.dtype}.</p>")
        body.extend(part.html for part in section["parts"])
        body.extend(image(path) for part in section["parts"] for path in part.figures)
        body.append("</div>")
    if run_sections:
        contents.append(("run-wide", "studies of the whole run"))
        body.append("<div id='run-wide'></div>")
    body.extend(part.html for part in run_sections)
    shared_figures = [path for part in run_sections for path in part.figures]
    if shared_figures:
        body.append("<h2>Figures shared by the protocols</h2>")
        body.extend(image(path) for path in shared_figures)
    nav = ("<nav>Contents: " + " · ".join(f"<a href='#{html.escape(a)}'>{html.escape(t)}</a>"
                                          for a, t in contents) + "</nav>")
    return "\n".join([
        f"<!doctype html><html><head><meta charset='utf-8'><title>lowcap report · "
        f"{html.escape(cfg.profile)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>lowcap report · profile <code>{html.escape(cfg.profile)}</code></h1>",
        facts, nav, *body, "</body></html>"])
