"""§4.5's claim: t-SNE clusters survive pruning."""

from __future__ import annotations

from lowcap.report.claims import CI, Claim, Verdict
from lowcap.report.statistics import (
    above,
    ci_text,
    undecided,
)


def _tsne(r: dict) -> Verdict:
    agree = r.get("tsne_agreement", {})
    if "pruned_minus_dense_ci" not in agree:
        return undecided(), "no per-point t-SNE agreement stored (rerun the t-SNE phase)"
    ci = tuple(agree["pruned_minus_dense_ci"])
    live = agree.get("pruned_live_minus_dense_ci")
    live_text = (f"; the pruned model's live units alone: {agree['pruned_live']:.3f}, "
                 f"difference {ci_text(tuple(live))}" if live else "")
    return above(ci, -0.02), (
        f"per-point 10-NN label agreement in 2-D (leave-one-out), dense {agree['dense']:.3f}, "
        f"pruned {agree['pruned']:.3f}; pruned − dense 95% bootstrap interval over "
        f"{agree.get('embeddings', 1)} t-SNE runs and {agree['points']} points resampled "
        f"together {ci_text(ci)}{live_text}")


CLAIMS = (
    Claim("tsne_clusters_preserved", "t-SNE clusters are preserved after 95% pruning.",
          "statistic: each point's leave-one-out 10-NN label agreement in the 2-D embedding, "
          "pruned − dense (the same points, the same t-SNE seeds), over several t-SNE runs; "
          f"{CI} of the mean, the runs and the points resampled together (one embedding's "
          "randomness is part of the statistic). Holds if the interval lies above −0.02, does "
          "not hold if below", _tsne),
)
