"""The faithfulness claims (lowcap's, for the paper's future work): the paper's saliency maps
rank the pixels the model relies on, and they depend on what the model learnt."""

from __future__ import annotations

import numpy as np

from lowcap.report.claims import CI, Claim, Verdict
from lowcap.report.statistics import above, all_of, below, bootstrap_mean_ci, ci_text, undecided

METHOD = "finite_difference"  # the paper's saliency (appendix C.2)
UNRELATED = 0.5  # a randomisation Spearman below this: the map is not the architecture's alone


def _faithful(r: dict) -> Verdict:
    gains = r.get("faithfulness", {}).get("gain_over_random", {}).get(METHOD, {})
    verdicts, parts = [], []
    for state, curves in gains.items():
        for curve, values in curves.items():
            if values:
                ci = bootstrap_mean_ci(np.array(values))
                verdicts.append(above(ci, 0.0))
                parts.append(f"{state} {curve} {np.mean(values):+.3f} {ci_text(ci)}")
    if not verdicts:
        return undecided(), f"no {METHOD} and random deletion/insertion curves stored"
    return all_of(verdicts), (
        f"gain of the {METHOD} map over a random pixel ranking, per model "
        f"({r['faithfulness']['models']} models): " + "; ".join(parts))


def _randomisation(r: dict) -> Verdict:
    values = r.get("faithfulness", {}).get("randomisation_spearman", {}).get(
        METHOD, {}).get("models", [])
    if not values:
        return undecided(), f"no {METHOD} randomisation check stored"
    ci = bootstrap_mean_ci(np.array(values))
    return below(ci, UNRELATED), (
        f"Spearman(trained model's {METHOD} maps, re-initialised model's), mean over "
        f"{len(values)} models {np.mean(values):+.3f} {ci_text(ci)}")


CLAIMS = (
    Claim("saliency_maps_faithful", "lowcap's check of §4.7: the paper's finite-difference "
          "saliency maps rank first the pixels the model relies on (dense and pruned).",
          "statistic: per model, the deletion area of the random ranking minus the map's and "
          f"the map's insertion area minus the random ranking's; {CI} over models of each "
          "mean, dense and pruned. Holds if all four lie above 0, does not hold if one lies "
          "below", _faithful),
    Claim("saliency_passes_randomisation", "lowcap's check of §4.7: the finite-difference "
          "maps depend on the learnt weights (Adebayo et al. 2018's sanity check).",
          f"statistic: per model, the mean per-image Spearman correlation of its maps with "
          f"those of a freshly initialised model of the same width; {CI} over models. Holds "
          f"if it lies below {UNRELATED}, does not hold if above", _randomisation),
)
