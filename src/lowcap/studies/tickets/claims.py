"""The lottery-ticket claims: sparse subnetworks that match the dense model, found by IMP, and
winning tickets beating random reinitialisation."""

from __future__ import annotations

import numpy as np

from lowcap.report.claims import CI, Claim, SeedValues, Verdict
from lowcap.report.statistics import above, bootstrap_mean_ci, ci_text, undecided

SPARSE = 0.05  # "≥ 95% sparsity": at most 5% of the weights left
SPARSE_REGIME = 0.2  # the rounds compared with the controls: at most 20% left


def _cells(r: dict) -> list[dict]:
    return [c for widths in r.get("tickets", {}).get("cells", {}).values()
            for c in widths.values()]


def _per_seed(r: dict, value) -> SeedValues:
    """seed → mean over (pair, width) cells of `value(cell, seed)` (NaN left out)."""
    by_seed: dict[str, list[float]] = {}
    for cell in _cells(r):
        for seed in cell["dense_f1_by_seed"]:
            by_seed.setdefault(seed, []).append(value(cell, seed))
    with np.errstate(all="ignore"):
        return {s: float(np.nanmean(v)) for s, v in by_seed.items() if np.isfinite(v).any()}


def _first_sparse_round(cell: dict) -> int | None:
    return next((i for i, left in enumerate(cell["remaining"]) if left <= SPARSE), None)


def _imp_minus_dense(cell: dict, seed: str) -> float:
    i = _first_sparse_round(cell)
    if i is None:
        return float("nan")
    return cell["f1_by_seed"]["imp"][seed][i] - cell["dense_f1_by_seed"][seed]


def _imp_minus_reinit(cell: dict, seed: str) -> float:
    rounds = [i for i, left in enumerate(cell["remaining"]) if left <= SPARSE_REGIME]
    imp, reinit = cell["f1_by_seed"]["imp"][seed], cell["f1_by_seed"]["reinit"][seed]
    with np.errstate(all="ignore"):
        return float(np.nanmean([imp[i] - reinit[i] for i in rounds])) if rounds else np.nan


def _match(r: dict) -> Verdict:
    cells = _cells(r)
    if not cells:
        return undecided(), "no lottery-ticket results"
    if all(_first_sparse_round(c) is None for c in cells):
        return undecided(), f"no round reached {1 - SPARSE:.0%} sparsity (add rounds)"
    values = np.array(list(_per_seed(r, _imp_minus_dense).values()))
    tolerance = float(np.mean([c["dense_std"] for c in cells]))
    ci = bootstrap_mean_ci(values)
    return above(ci, -tolerance), (
        f"IMP best validation F1 at the first round with ≤ {SPARSE:.0%} of the weights left "
        f"minus the dense model's, per seed averaged over {len(cells)} (pair, width) cells: "
        f"{np.mean(values):+.4f} {ci_text(ci, '+.4f')}; the dense models' mean seed std "
        f"{tolerance:.4f}")


def _beats_reinit(r: dict) -> Verdict:
    if not _cells(r):
        return undecided(), "no lottery-ticket results"
    values = np.array(list(_per_seed(r, _imp_minus_reinit).values()))
    if not len(values):
        return undecided(), f"no round left ≤ {SPARSE_REGIME:.0%} of the weights (add rounds)"
    ci = bootstrap_mean_ci(values)
    return above(ci, 0.0), (
        f"IMP minus random-reinitialisation best validation F1 over the rounds with ≤ "
        f"{SPARSE_REGIME:.0%} of the weights left, per seed averaged over cells: "
        f"{np.mean(values):+.4f} {ci_text(ci, '+.4f')}")


CLAIMS = (
    Claim("tickets_match_dense_95", "Trained networks contain sparse subnetworks (≥ 95% "
          "sparsity) that match the dense network (tested with iterative magnitude pruning "
          "and rewinding, not only one-shot pruning).", "statistic: each seed's IMP best "
          "validation F1 at the first round with ≤ 5% of the weights left minus its dense "
          f"model's, averaged over (pair, width) cells; {CI} of its mean over seeds. Holds if "
          "the interval lies above minus the dense models' mean seed std, does not hold if it "
          "lies below", _match, lambda r: _per_seed(r, _imp_minus_dense),
          "one seed's IMP F1 at ≥ 95% sparsity minus its dense F1, mean over cells"),
    Claim("tickets_beat_reinit", "Winning tickets beat random reinitialisation (the "
          "lottery-ticket criterion).", "statistic: each seed's IMP minus "
          "random-reinitialisation best validation F1, averaged over the rounds with ≤ 20% "
          f"of the weights left and over cells; {CI} of its mean over seeds. Holds if the "
          "interval lies above 0, does not hold if below", _beats_reinit,
          lambda r: _per_seed(r, _imp_minus_reinit),
          "one seed's IMP minus reinit F1 at ≤ 20% of the weights, mean over rounds and cells"),
)
