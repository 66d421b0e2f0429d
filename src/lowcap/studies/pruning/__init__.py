"""§4.3 one-shot pruning: every capacity model pruned by level and method, and evaluated."""

from typing import Literal

from pydantic import Field

from lowcap.studies.base import Command, Study, floats, names, option
from lowcap.studies.pruning.claims import CLAIMS
from lowcap.studies.pruning.compute import compute
from lowcap.studies.pruning.config import PruningConfig
from lowcap.studies.pruning.report import report, summary
from lowcap.studies.selection import Selection
from lowcap.studies.tsne.config import TSNEConfig

STUDY = Study(
    "pruning", PruningConfig, compute=compute, report=report, summary=summary,
    headline=("pruning",),
    claims=CLAIMS, selection=lambda cfg: Selection(cfg.pruning.select),
    command=Command(
        "prune", "One-shot pruning of a run's capacity models (§4.3), into its store; rebuilds "
        "the report.",
        options=(option("--levels", "Comma-separated sparsities, e.g. 0.5,0.9,0.99."),
                 option("--methods", "Comma-separated: layerwise, global, random.")),
        overrides=lambda levels, methods: {"levels": floats(levels), "methods": names(methods)}),
    protocol_fields={"pruning_fraction_scale": (Literal["intended", "both"], Field(
        "intended", description="both: also prune with the reference code's fraction/100, "
        "reported as the method layerwise_refscale."))},
    protocol_presets={"reference": {"pruning_fraction_scale": "both"}},
    reads=(TSNEConfig,))  # its methods figure shows the model the t-SNE section embeds
