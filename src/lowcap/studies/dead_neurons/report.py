"""§4.4's report section: Table 1 (dead, disconnected and live units per model)."""

from __future__ import annotations

from pathlib import Path

from lowcap.report.html import table
from lowcap.report.plotting import new_figure, save_figure
from lowcap.report.tables import results_by_model
from lowcap.run.plan import ModelPlan
from lowcap.run.store import Store
from lowcap.studies.base import ReportInput, Section
from lowcap.studies.selection import Selection

TABLE1_COLUMNS = ["pair", "hidden", "seed", "dead (dense)", "dead (pruned)",
                  "disconnected (pruned)", "live (pruned)"]


def summary(inp: ReportInput) -> dict:
    """Summary keys `dead_neurons` (the Table 1 models) and `dead_neurons_all` (every model)."""
    spec = inp.cfg.dead_neurons
    plans = Selection(spec.select).plans(inp.cfg, inp.protocol)
    rows = dead_neuron_rows(inp.store, plans, spec.level)
    chosen = {(f"{p[0]}-{p[1]}", h) for p, h in spec.models}
    return {"dead_neurons": [r for r in rows if (r["pair"], r["hidden"]) in chosen],
            "dead_neurons_all": rows}


def report(inp: ReportInput) -> Section:
    """The `summary` keys and Table 1."""
    result = summary(inp)
    table1 = result["dead_neurons"]
    # The PNG stays in figures/ (the output contract); the page shows the HTML table only.
    dead_neurons_figure(table1, inp.figures, inp.protocol.name)
    return Section(
        result, [],
        "<h3>§4.4 Dead neurons (Table 1)</h3><p>Paper: 0 before and after for all three models. "
        "A unit is <i>dead</i> when its ReLU output is 0 on every validation image (the paper's "
        "definition; for tanh, a constant output), <i>disconnected</i> when pruning left it no "
        "outgoing weight or no incoming one (it is not dead, but the output no longer depends "
        "on the input through it), and <i>live</i> otherwise.</p>"
        + table(TABLE1_COLUMNS, [table1_row(r) for r in table1]))


def dead_neuron_rows(store: Store, plans: list[ModelPlan], level: float) -> list[dict]:
    """One row per model: pair, hidden, seed, dead units before and after pruning, and (runs
    since lowcap counted them) disconnected and live units before and after."""
    rows = results_by_model(store, "dead_neurons", plans)
    out = []
    for plan in plans:
        counts = {(r["params"]["level"], r["metric"]): r["value"]
                  for r in rows.get(plan.model_id, [])}
        if (0.0, "dead") not in counts or (level, "dead") not in counts:
            continue
        row = {"pair": plan.pair_key, "hidden": plan.hidden, "seed": plan.seed,
               "before": int(counts[(0.0, "dead")]), "after_95": int(counts[(level, "dead")])}
        for metric in ("disconnected", "live"):
            for when, lvl in (("before", 0.0), ("after", level)):
                if (lvl, metric) in counts:
                    row[f"{metric}_{when}"] = int(counts[(lvl, metric)])
        out.append(row)
    return out


def table1_row(row: dict) -> list:
    """Table 1's cells of one model ('—' where an older run did not count a column)."""
    return [row["pair"], row["hidden"], row["seed"], row["before"], row["after_95"],
            row.get("disconnected_after", "—"), row.get("live_after", "—")]


def dead_neurons_figure(rows: list[dict], folder: Path, protocol: str) -> Path | None:
    """Table 1 rendered as an image (None without rows: every model diverged)."""
    if not rows:
        return None
    fig, (ax,) = new_figure(height=0.4 + 0.3 * len(rows))
    ax.axis("off")
    cells = [table1_row(r) for r in rows]
    ax.table(cellText=cells, colLabels=TABLE1_COLUMNS, loc="center")
    ax.set_title(f"Table 1 · dead neurons ({protocol})")
    return save_figure(fig, folder, f"table1_dead_neurons_{protocol}")
