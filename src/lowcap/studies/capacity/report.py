"""§4.2's report section: the capacity table, Fig 3 and the training dynamics."""

from __future__ import annotations

from lowcap.report.html import table
from lowcap.report.statistics import BOOTSTRAP
from lowcap.report.tables import ModelCurves, model_curves
from lowcap.run.config import ProtocolConfig, RunConfig
from lowcap.run.plan import ModelPlan, grid
from lowcap.studies.base import ReportInput, Section, section
from lowcap.studies.capacity.config import CapacityConfig
from lowcap.studies.capacity.figures import capacity_figure, dynamics_figures
from lowcap.studies.capacity.tables import capacity_table

PAPER_MIN_CAPACITY = {"0-1": "≈ 4", "1-7": "≈ 10", "5-6": "≈ 10", "3-8": "—", "4-9": "12–24"}


def plans(cfg: RunConfig, protocol: ProtocolConfig) -> list[ModelPlan]:
    """Every pair × width × seed at the main learning rate (none without the section)."""
    spec = section(cfg, CapacityConfig)
    return [] if spec is None else grid(cfg, protocol, spec.pairs, cfg.widths, [cfg.lr])


def _curves_and_table(inp: ReportInput) -> tuple[ModelCurves, dict]:
    spec = inp.cfg.capacity
    curves = model_curves(inp.store, plans(inp.cfg, inp.protocol))
    return curves, capacity_table(curves, spec.min_f1, spec.max_std)


def summary(inp: ReportInput) -> dict:
    """Summary key `capacity`."""
    return {"capacity": _curves_and_table(inp)[1]}


def report(inp: ReportInput) -> Section:
    """The capacity table (summary key `capacity`), Fig 3 and Figs A.1–A.5."""
    spec, protocol = inp.cfg.capacity, inp.protocol
    curves, result = _curves_and_table(inp)
    figures = [capacity_figure(result, inp.figures, protocol.name, spec.min_f1),
               *dynamics_figures(curves, inp.figures, protocol.name, protocol.curves_split)]
    return Section({"capacity": result}, figures,
                   "<h3>§4.2 Minimum capacity</h3>" + _capacity_section(result),
                   headline=_headline(result))


def _headline(result: dict) -> str:
    """Minimum capacity per pair: the paper's against this run's, where the paper gives one."""
    rows = [[pair, PAPER_MIN_CAPACITY[pair],
             entry["min_hidden"] if entry["min_hidden"] is not None else "none",
             min_ci_text(entry.get("min_hidden_ci"))]
            for pair, entry in result.items() if PAPER_MIN_CAPACITY.get(pair, "—") != "—"]
    return (table(["pair", "min capacity (paper)", "min capacity (lowcap)", "95% interval"],
                  rows) if rows else "")


def _capacity_section(result: dict) -> str:
    rows = [[pair, entry["min_hidden"] if entry["min_hidden"] is not None else "none",
             min_ci_text(entry.get("min_hidden_ci")), _min_distribution(entry.get("min_hidden_p")),
             PAPER_MIN_CAPACITY.get(pair, "—"),
             max(entry["f1_mean"].values())] for pair, entry in result.items()]
    seeds = {len(e.get("seeds", [])) for e in result.values()}
    return (f"<p>Minimum capacity over the seeds run ({', '.join(map(str, sorted(seeds)))} "
            "per pair), and its distribution when the seeds are resampled with replacement "
            f"(bootstrap, {BOOTSTRAP} resamples): P(min = h) and a 95% interval ('none': no width "
            "meets the rule).</p>"
            + table(["pair", "min hidden (ours)", "95% interval", "P(min = h)", "paper",
                      "best mean F1"], rows))


def min_ci_text(ci: list | None) -> str:
    """A minimum capacity's 95% interval: '2–4' ('none' for an end no width meets; '—'
    without an interval)."""
    if not ci:
        return "—"
    return "–".join("none" if h is None else str(h) for h in ci)


def _min_distribution(p: dict | None) -> str:
    if not p:
        return "—"
    return ", ".join(f"{h}: {v:.2f}" for h, v in p.items())
