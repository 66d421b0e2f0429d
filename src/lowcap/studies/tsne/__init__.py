"""§4.5 t-SNE: one model's hidden activations embedded before and after pruning, scored."""

from lowcap.studies.base import Command, Study, option
from lowcap.studies.selection import one_model
from lowcap.studies.tsne.claims import CLAIMS
from lowcap.studies.tsne.compute import compute
from lowcap.studies.tsne.config import TSNEConfig
from lowcap.studies.tsne.report import report

STUDY = Study(
    "tsne", TSNEConfig, compute=compute, report=report, claims=CLAIMS,
    selection=lambda cfg: one_model(cfg.tsne),
    command=Command(
        "tsne", "t-SNE of hidden activations before and after pruning (§4.5); rebuilds the "
        "report.",
        options=(option("--pair", "Digit pair, e.g. 4-9."),
                 option("--hidden", "Width of the model to embed.", int),
                 option("--max-points", "Validation points to embed.", int),
                 option("--embeddings", "t-SNE runs per view (seeds seed, seed+1, …).", int)),
        overrides=lambda pair, hidden, max_points, embeddings: {
            "pair": pair, "hidden": hidden, "max_points": max_points,
            "embeddings": embeddings}))
