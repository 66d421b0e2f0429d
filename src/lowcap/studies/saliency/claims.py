"""§4.7's claim: the pruned model keeps the dense model's reasoning."""

from __future__ import annotations

from lowcap.report.claims import CI, Claim, Verdict
from lowcap.report.statistics import (
    above,
    all_of,
    ci_text,
    undecided,
)


def _saliency(r: dict) -> Verdict:
    m = r.get("saliency", {}).get("magnitude", {})
    if "spearman_undefined_as_zero_ci" not in m:
        return undecided(), "no per-image saliency agreement stored (rerun the saliency phase)"
    ci, diff = tuple(m["spearman_undefined_as_zero_ci"]), tuple(m["minus_random_ci"])
    return all_of([above(ci, 0.8), above(diff, 0.0)]), (
        f"Spearman(dense, 95% magnitude-pruned) over {m['images']} images, "
        f"{int(m['undefined_maps'])} with a constant pruned output counted as 0: mean "
        f"{m['spearman_mean_undefined_as_zero']:.3f}, 95% bootstrap interval {ci_text(ci)}; "
        f"minus random pruning (paired) {ci_text(diff)}; leaving undefined maps out: "
        f"{m['spearman_mean']:.3f}")


CLAIMS = (
    Claim("pruned_saliency_preserved", "The 95%-pruned subnetwork keeps the dense model's "
          "reasoning (saliency).", "statistic: per-image Spearman of dense vs pruned maps "
          f"(undefined, for a constant pruned output, counted as 0), {CI} over images of its "
          "mean and of its paired difference from random pruning. Holds if the first lies above "
          "0.8 and the second above 0, does not hold if either lies below", _saliency),
)
