"""`lowcap sweep`: any grid of pairs × widths × learning rates × seeds, trained as cohorts."""

from lowcap.studies.base import Command, Study
from lowcap.studies.sweep.config import SweepConfig, plans
from lowcap.studies.sweep.report import report

STUDY = Study(
    "sweep", SweepConfig, plans=plans, report=report, headline=("sweep", "sweep_trends"),
    command=Command("sweep", "Train the cohort a YAML config declares (tasks × widths × "
                    "learning rates × seeds), run its analyses and write the report.",
                    kind="train"))
