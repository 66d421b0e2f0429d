"""Why a claim holds where it holds: each factor's main effect on its verdict and on its
measured quantity, and one sentence per claim generated from those numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lowcap.report.statistics import bootstrap_mean_ci

HOLDS = "holds"


@dataclass(frozen=True)
class CellResult:
    """One cell's levels, each claim's verdict, and each claim's quantity per seed."""

    levels: dict[str, str]
    verdicts: dict[str, str]
    quantities: dict[str, dict[str, float]]


def _comparisons(factor: str, cells: list[CellResult]) -> list[tuple[CellResult, CellResult]]:
    """Pairs of cells that differ in `factor` alone: (first level, second level)."""
    by_rest: dict[tuple, dict[str, CellResult]] = {}
    for cell in cells:
        rest = tuple(sorted((f, v) for f, v in cell.levels.items() if f != factor))
        by_rest.setdefault(rest, {})[cell.levels[factor]] = cell
    return [tuple(pair.values()) for pair in by_rest.values() if len(pair) == 2]


def main_effect(claim: str, factor: str, levels: list[str], cells: list[CellResult]) -> dict:
    """How often flipping `factor` alone changes `claim`'s verdict, and the mean change of its
    quantity (second level − first) with a 95% bootstrap interval over seeds."""
    pairs = [(a, b) if a.levels[factor] == levels[0] else (b, a)
             for a, b in _comparisons(factor, cells)]
    flips = sum(a.verdicts.get(claim) != b.verdicts.get(claim) for a, b in pairs)
    per_seed: dict[str, list[float]] = {}
    for a, b in pairs:
        qa, qb = a.quantities.get(claim, {}), b.quantities.get(claim, {})
        for seed in qa.keys() & qb.keys():
            change = qb[seed] - qa[seed]
            if np.isfinite(change):
                per_seed.setdefault(seed, []).append(change)
    changes = np.array([np.mean(v) for v in per_seed.values()], dtype=float)
    ci = bootstrap_mean_ci(changes) if len(changes) else (float("nan"), float("nan"))
    holds = {level: sum(c.verdicts.get(claim) == HOLDS for c in cells
                        if c.levels[factor] == level) for level in levels}
    return {"from": levels[0], "to": levels[1], "flips": int(flips), "comparisons": len(pairs),
            "mean_change": float(np.mean(changes)) if len(changes) else float("nan"),
            "ci": [float(ci[0]), float(ci[1])], "seeds": len(changes), "holds_at": holds}


def effects(claim: str, factors: dict[str, list[str]], cells: list[CellResult]) -> dict:
    """`main_effect` of every factor on `claim`."""
    return {f: main_effect(claim, f, levels, cells) for f, levels in factors.items()}


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _number(value: float) -> str:
    return f"{value:+.3g}"


def explain(claim: str, measures: str, factor_effects: dict, cells: list[CellResult]) -> str:
    """One sentence (or two) saying which factors decide the claim's verdict, from the
    numbers alone."""
    verdicts = [c.verdicts.get(claim, "inconclusive") for c in cells]
    held = verdicts.count(HOLDS)
    text = f"{claim} holds in {held} of {len(cells)} cells"
    if len(set(verdicts)) == 1:
        text += f" (every cell: {verdicts[0]}); no factor changes its verdict"
    else:
        decisive, partial, inert = [], [], []
        for factor, e in factor_effects.items():
            if e["flips"] == 0:
                inert.append(factor)
            elif e["flips"] == e["comparisons"]:
                at = [lv for lv, n in e["holds_at"].items() if n > 0]
                decisive.append(f"only with {factor} = {at[0]}" if len(at) == 1
                                else f"{factor} changes it in every comparison")
            else:
                partial.append(f"{factor} changes it in {e['flips']} of {e['comparisons']} "
                               "comparisons")
        parts = []
        if decisive:
            parts.append(("it holds " if decisive[0].startswith("only") else "")
                         + "; ".join(decisive))
        parts += partial
        if inert:
            parts.append(f"{_names(inert)} never change{'s' if len(inert) == 1 else ''} it")
        text += "; " + "; ".join(parts)
    ranked = [(f, e) for f, e in factor_effects.items() if np.isfinite(e["mean_change"])]
    if ranked and all(e["mean_change"] == 0 for _, e in ranked):
        text += f". No factor changes {measures}"
    elif ranked:
        factor, e = max(ranked, key=lambda fe: abs(fe[1]["mean_change"]))
        lo, hi = e["ci"]
        sure = ("" if not np.isfinite(lo) or lo <= 0 <= hi
                else " (the interval excludes 0)")
        text += (f". Largest effect on {measures}: {factor} ({e['from']} → {e['to']}) "
                 f"{_number(e['mean_change'])} [{_number(lo)}, {_number(hi)}]{sure}")
    return text + "."
