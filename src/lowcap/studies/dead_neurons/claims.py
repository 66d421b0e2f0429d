"""§4.4's claim: no dead neurons before or after pruning (Table 1)."""

from __future__ import annotations

from lowcap.report.claims import Claim, SeedValues, Verdict, listing
from lowcap.report.statistics import FAILS, HOLDS, undecided


def _dead_neurons(r: dict) -> Verdict:
    rows = r.get("dead_neurons", [])
    if not rows:
        return undecided(), "no dead-neuron results"
    name = {id(x): f"{x['pair']} h={x['hidden']} seed {x['seed']}" for x in rows}
    dead = {name[id(x)]: f"{x['before']} before, {x['after_95']} after" for x in rows
            if x["before"] or x["after_95"]}
    verdict = undecided(HOLDS if not dead else FAILS)  # an exact count: no numerical spread
    cut = {name[id(x)]: x.get("disconnected_after") for x in rows}
    extra = (f"; disconnected units after pruning: {listing(cut)}"
             if all(c is not None for c in cut.values()) else "")
    return verdict, (f"{len(dead)} of {len(rows)} models with a dead unit (an exact count: "
                     f"no sampling); dead units: {listing(dead)}{extra}")


def _dead_per_seed(r: dict) -> SeedValues:
    out: dict[str, float] = {}
    for row in r.get("dead_neurons", []):
        key = str(row["seed"])
        out[key] = out.get(key, 0.0) + row["before"] + row["after_95"]
    return out


CLAIMS = (
    Claim("zero_dead_neurons", "No dead neurons before or after 95% pruning (Table 1).",
          "statistic: the exact count of units with zero ReLU output on every validation image, "
          "per Table 1 model and seed (no sampling). Holds if every count is 0", _dead_neurons,
          _dead_per_seed, "one seed's dead units before plus after pruning, summed over the "
          "Table 1 models"),
)
