"""A self-contained report.html: figures embedded as data URIs, no network needed."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from lowcap.experiments.config import ExperimentConfig
from lowcap.report.figures_analyses import TABLE1_COLUMNS, table1_row
from lowcap.report.statistics import BOOTSTRAP

# What the paper states, shown beside our numbers (protocol.md, 'Reported figures').
PAPER_OCCLUSION = {"24": 0.847, "48": 0.860, "64": 0.862}
SALIENCY_METRICS = ("spearman_mean", "spearman_std", "topk_overlap_mean", "topk_overlap_std",
                    "undefined_maps", "images", "spearman_mean_undefined_as_zero")
PAPER_MIN_CAPACITY = {"0-1": "≈ 4", "1-7": "≈ 10", "5-6": "≈ 10", "3-8": "—", "4-9": "12–24"}

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;
padding:.3em .6em;text-align:right}th{background:#f3f3f3}img{max-width:100%;display:block;
margin:1em 0}pre{background:#f7f7f7;padding:1em;overflow:auto}.proto{border-left:4px solid #369;
padding-left:1em;margin:2em 0}"""


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _table(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _capacity_section(table: dict) -> str:
    rows = [[pair, entry["min_hidden"] if entry["min_hidden"] is not None else "none",
             _min_ci(entry.get("min_hidden_ci")), _min_distribution(entry.get("min_hidden_p")),
             PAPER_MIN_CAPACITY.get(pair, "—"),
             max(entry["f1_mean"].values())] for pair, entry in table.items()]
    seeds = {len(e.get("seeds", [])) for e in table.values()}
    return (f"<p>Minimum capacity over the seeds run ({', '.join(map(str, sorted(seeds)))} "
            "per pair), and its distribution when the seeds are resampled with replacement "
            f"(bootstrap, {BOOTSTRAP} resamples): P(min = h) and a 95% interval ('none': no width "
            "meets the rule).</p>"
            + _table(["pair", "min hidden (ours)", "95% interval", "P(min = h)", "paper",
                      "best mean F1"], rows))


def _rounding_note(spread: dict) -> str:
    if not spread:
        return ""
    return ("<p>Rounding: <code>layerwise</code> prunes int(s·n) weights per layer (the "
            "paper's appendix), <code>layerwise_nearest</code> round(s·n) (torch's "
            "l1_unstructured). For one model they differ by up to "
            f"{spread['max_pct_points']:.1f} percentage points of F1 (pair {spread['pair']}, "
            f"h = {spread['hidden']}, seed {spread['seed']}, {spread['level']:.0%}): at small "
            "widths one output weight more or less can decide the model.</p>")


def _min_ci(ci: list | None) -> str:
    if not ci:
        return "—"
    return "–".join("none" if h is None else str(h) for h in ci)


def _min_distribution(p: dict | None) -> str:
    if not p:
        return "—"
    return ", ".join(f"{h}: {v:.2f}" for h, v in p.items())


def _pruning_section(by_method: dict) -> str:
    """Mean % change in F1 at the highest levels, per method and pair (all widths pooled)."""
    rows = []
    for method, pairs in by_method.items():
        for pair, widths in pairs.items():
            levels = sorted({lv for w in widths.values() for lv in w}, key=float)[-3:]
            rows.append([method, pair, *(
                float(sum(w[lv]["pct_change_f1"] for w in widths.values()) / len(widths))
                for lv in levels)])
    levels = sorted({lv for pairs in by_method.values() for widths in pairs.values()
                     for w in widths.values() for lv in w}, key=float)[-3:]
    return ("<p>Mean % change in validation F1 over widths (paper: (0,1) ≈ 0 up to 99%; (4,9) "
            "changes of order 1e-2; degradation mostly beyond 95%).</p>"
            + _table(["method", "pair", *(f"{float(lv):.0%}" for lv in levels)], rows))


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
            cells.append(f"<td style='background:{colour};text-align:left'><b>"
                         f"{html.escape(c['verdict'])}</b><br><small>"
                         f"{html.escape(c['measured'])}</small></td>")
        rows.append(f"<tr><td style='text-align:left'><b>{html.escape(first['id'])}</b><br>"
                    f"{html.escape(first['paper_says'])}<br><small>rule: "
                    f"{html.escape(first['rule'])}</small></td>{''.join(cells)}</tr>")
    return ("<h2>Claims check</h2><p>Each finding of the paper as a rule, evaluated under both "
            "protocols: <code>reference</code> (what the paper's public code does) and "
            "<code>corrected</code> (what its text implies).</p>"
            f"<table id='claims'><tr><th>claim</th>{head}</tr>{''.join(rows)}</table>")


def render_report(cfg: ExperimentConfig, summary: dict, sections: list[dict],
                  shared_figures: list[Path]) -> str:
    """The report page: claims, protocol choices, per-protocol sections with figures and
    numbers, then figures that do not depend on a protocol (appendix D)."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>lowcap report · "
             f"{html.escape(cfg.profile)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>lowcap report · profile <code>{html.escape(cfg.profile)}</code></h1>",
             f"<p>lowcap {summary['lowcap_version']}, device {summary['device']}, training "
             f"matmuls {html.escape(str(summary['train_matmul']))}, total compute time "
             f"{summary['seconds']['total']:.1f} s.</p>",
             _claims_section(summary["claims"]),
             "<h2>Protocol</h2><details><summary>the resolved config.yaml (every default "
             "spelled out)</summary><pre>" + html.escape(cfg.to_yaml()) + "</pre></details>"]
    timing_rows = [[k, v] for k, v in summary["seconds"].items()]
    parts.append("<h2>Timings (s)</h2>" + _table(["phase", "seconds"], timing_rows))
    for section in sections:
        protocol = section["protocol"]
        result = section["result"]
        parts.append(f"<div class='proto'><h2>Protocol <code>{protocol.name}</code></h2>")
        draws = ("the paper code's own split and weight draws" if protocol.draws == "paper_code"
                 else "lowcap's split and weight draws")
        parts.append(f"<p>batch size {protocol.batch_size}, init {protocol.init}, balanced "
                     f"classes: {protocol.balance}, seeds {protocol.seeds}, curves on "
                     f"{protocol.curves_split} split; {draws}, trained in {protocol.dtype}.</p>")
        if "lr_grid" in result:
            parts.append(f"<h3>§4.1 Learning rate grid</h3><p>Best learning rate (mean F1 over "
                         f"widths): {result['lr_grid']['best_lr']}; the paper chose 0.03.</p>")
        if "capacity" in result:
            parts.append("<h3>§4.2 Minimum capacity</h3>" + _capacity_section(result["capacity"]))
        if "pruning" in result:
            parts.append("<h3>§4.3 One-shot magnitude pruning</h3>"
                         + _pruning_section(result["pruning_methods"])
                         + _rounding_note(result.get("pruning_rounding_spread", {})))
        if "dead_neurons" in result:
            rows = [table1_row(r) for r in result["dead_neurons"]]
            parts.append("<h3>§4.4 Dead neurons (Table 1)</h3><p>Paper: 0 before and after for "
                         "all three models. A unit is <i>dead</i> when its ReLU output is 0 on "
                         "every validation image (the paper's definition), <i>disconnected</i> "
                         "when pruning left it no outgoing weight or no incoming one (it is not "
                         "dead, but the output no longer depends on the input through it), and "
                         "<i>live</i> otherwise.</p>" + _table(TABLE1_COLUMNS, rows))
        if result.get("tsne"):
            names = sorted({k for s in result["tsne"].values() for k in s})
            rows = [[lv, *(s.get(n, float("nan")) for n in names)]
                    for lv, s in sorted(result["tsne"].items())]
            parts.append("<h3>§4.5 t-SNE</h3><p>Paper: clusters 'qualitatively identical' after "
                         "95% pruning. Our numbers:</p>" + _table(["level", *names], rows))
        if "robustness" in result:
            occ = result["robustness"]["occlusion"]
            rows = [[h, occ[h], PAPER_OCCLUSION.get(h, "—")] for h in sorted(occ, key=int)]
            parts.append("<h3>§4.6 Robustness (test split, same corrupted images for every "
                         "model)</h3>" + _table(["hidden", "occlusion F1 (ours)", "paper"], rows))
        if result.get("saliency"):
            rows = [[kind, *(s.get(m, float("nan")) for m in SALIENCY_METRICS)]
                    for kind, s in result["saliency"].items()]
            parts.append("<h3>§4.7 Saliency: does the pruned model keep the dense one's "
                         "reasoning?</h3><p>Agreement of finite-difference maps, dense vs "
                         "95%-pruned, over validation images; random pruning at the same "
                         "sparsity is the baseline. Where the pruned network's output is "
                         "constant its map is all zero and Spearman is undefined: "
                         "<code>spearman_mean</code> leaves those images out, "
                         "<code>spearman_mean_undefined_as_zero</code> counts them as no "
                         "agreement (the claims check uses the latter).</p>"
                         + _table(["pruning", *SALIENCY_METRICS], rows))
        parts.extend(_img(path) for path in section["figures"])
        parts.append("</div>")
    if summary.get("sensitivity"):
        s = summary["sensitivity"]
        rows = [[gap, e["pearson"], f"{e['pearson_ci'][0]:.3f}–{e['pearson_ci'][1]:.3f}",
                 e["spearman"], f"{e['spearman_ci'][0]:.3f}–{e['spearman_ci'][1]:.3f}"]
                for gap, e in s["correlation"].items()]
        parts.append(f"<h2>Companion A · sensitivity and generalization (Novak et al. 2018), "
                     f"protocol {s['protocol']}, {s['models']} models</h2>"
                     + _table(["gap", "Pearson", "95% CI", "Spearman", "95% CI"], rows)
                     + _table(["variant", "models", "mean test Jacobian norm",
                               "mean accuracy gap"],
                              [[v, e["models"], e["jac_test_mean"], e["gap_acc_mean"]]
                               for v, e in s["variants"].items()])
                     + f"<p>Linear-region transitions along ellipses: mean "
                     f"{s['transitions']['mean']:.1f}; relative change when doubling the "
                     f"points {s['transitions']['relative_change_when_doubling_points']:.3%}."
                     "</p>")
    if summary.get("narrow"):
        rows = [[data, v["multiplier"], v["best_projected"], v["radius"], v["projected_loss"],
                 v["sgd_loss"], "holds" if v["holds"] else "does not hold"]
                for data, v in summary["narrow"]["verdict"].items()]
        parts.append("<h2>Companion B · narrow networks, projected gradient vs SGD (Zhang et al. "
                     "2021)</h2><p>lowcap's operationalisation: first layer trained inside a "
                     "Frobenius ball around a mirrored initialisation, square loss.</p>"
                     + _table(["dataset", "m/(2n/d)", "best projected", "R",
                               "projected loss", "SGD loss", "verdict"], rows))
    if shared_figures:
        parts.append("<h2>Figures shared by the protocols</h2>")
        parts.extend(_img(path) for path in shared_figures)
    parts.append("</body></html>")
    return "\n".join(parts)
