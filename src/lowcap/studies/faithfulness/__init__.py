"""Attribution faithfulness (the paper's future work): deletion and insertion curves of each
saliency method against a random ranking, dense and pruned, and the model-randomisation
sanity check."""

from lowcap.studies.base import Command, Study, option
from lowcap.studies.faithfulness.claims import CLAIMS
from lowcap.studies.faithfulness.compute import compute
from lowcap.studies.faithfulness.config import FaithfulnessConfig
from lowcap.studies.faithfulness.report import report, summary
from lowcap.studies.selection import at_pair_and_widths

STUDY = Study(
    "faithfulness", FaithfulnessConfig, compute=compute, report=report, summary=summary,
    images=True,
    claims=CLAIMS, selection=lambda cfg: at_pair_and_widths(cfg.faithfulness),
    command=Command(
        "faithfulness", "Deletion / insertion curves of the attribution methods and the "
        "model-randomisation check; rebuilds the report.",
        options=(option("--max-images", "Validation images per model (200).", int),),
        overrides=lambda max_images: {"max_images": max_images}))
