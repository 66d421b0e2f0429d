"""§4.4 dead neurons: dead, disconnected and live hidden units before and after pruning."""

from lowcap.studies.base import Command, Study, option
from lowcap.studies.dead_neurons.claims import CLAIMS
from lowcap.studies.dead_neurons.compute import compute
from lowcap.studies.dead_neurons.config import DeadNeuronsConfig
from lowcap.studies.dead_neurons.report import report, summary
from lowcap.studies.selection import Selection

STUDY = Study(
    "dead_neurons", DeadNeuronsConfig, compute=compute, report=report,
    summary=summary, headline=("dead_neurons",), claims=CLAIMS,
    selection=lambda cfg: Selection(cfg.dead_neurons.select),
    command=Command(
        "neurons", "Dead hidden units before and after pruning (§4.4, Table 1); rebuilds the "
        "report.",
        options=(option("--level", "Pruning level to compare (0.95).", float),),
        overrides=lambda level: {"level": level}))
