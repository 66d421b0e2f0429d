"""§4.7 saliency: maps of one model dense and pruned, and how much they agree."""

from lowcap.studies.base import Command, Study, option
from lowcap.studies.saliency.claims import CLAIMS
from lowcap.studies.saliency.compute import compute
from lowcap.studies.saliency.config import SaliencyConfig
from lowcap.studies.saliency.report import report
from lowcap.studies.selection import one_model

STUDY = Study(
    "saliency", SaliencyConfig, compute=compute, report=report, headline=("saliency",),
    images=True,
    claims=CLAIMS, selection=lambda cfg: one_model(cfg.saliency),
    command=Command(
        "saliency", "Saliency maps, dense vs pruned agreement (§4.7); rebuilds the report.",
        options=(option("--pair", "Digit pair, e.g. 4-9."),
                 option("--hidden", "Width of the model to explain.", int),
                 option("--epsilon", "Finite-difference step (0.01).", float)),
        overrides=lambda pair, hidden, epsilon: {
            "pair": pair, "hidden": hidden, "epsilon": epsilon}))
