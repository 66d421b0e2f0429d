"""§4.2's numbers from the store: best F1 per width and seed, and the minimum capacity."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from lowcap.report.tables import ModelCurves
from lowcap.studies.capacity.statistics import meets_rule, min_capacity_bootstrap


def capacity_table(curves: ModelCurves, min_f1: float, max_std: float) -> dict[str, dict]:
    """Per pair: best-F1 mean/std per width, final F1, the min-capacity rule's answer, and its
    distribution over seeds (bootstrap: `min_hidden_p`, `min_hidden_ci`).

    Min capacity = smallest width whose best validation F1 exceeds `min_f1` for every seed and
    whose seed std is below `max_std`. The bootstrap needs every width to have the same seeds;
    where they differ (a partly trained run) it is left out.
    """
    table: dict[str, dict] = defaultdict(lambda: {"f1_mean": {}, "f1_std": {},
                                                  "final_f1_mean": {}, "min_hidden": None,
                                                  "f1_by_seed": {}})
    seeds: dict[str, set[tuple[int, ...]]] = defaultdict(set)
    for (pair, hidden, _lr), _ in sorted(curves.curves.items(), key=lambda kv: kv[0][1]):
        best = curves.best((pair, hidden, _lr))
        final = curves.curves[(pair, hidden, _lr)]["val_f1"][:, -1]
        entry = table[pair]
        entry["f1_mean"][str(hidden)] = float(np.mean(best))
        entry["f1_std"][str(hidden)] = float(np.std(best))
        entry["final_f1_mean"][str(hidden)] = float(np.mean(final))
        entry["f1_by_seed"][str(hidden)] = [float(v) for v in best]
        seeds[pair].add(tuple(curves.seeds[(pair, hidden, _lr)]))
        if entry["min_hidden"] is None and meets_rule(best, min_f1, max_std):
            entry["min_hidden"] = hidden
    for pair, entry in table.items():
        if len(seeds[pair]) == 1:
            entry["seeds"] = list(next(iter(seeds[pair])))
            widths = [int(h) for h in entry["f1_by_seed"]]
            best = np.array(list(entry["f1_by_seed"].values()))
            boot = min_capacity_bootstrap(best, widths, min_f1, max_std)
            entry["min_hidden_p"], entry["min_hidden_ci"] = boot["p"], boot["ci"]
            entry["rule"] = {"min_f1": min_f1, "max_std": max_std}
    return dict(table)
