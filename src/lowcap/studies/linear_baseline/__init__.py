"""A linear baseline beside the capacity sweep: logistic regression per pair, and whether each
pair's training split is linearly separable (if it is, 'capacity needed' means something
else)."""

from lowcap.studies.base import Command, Study
from lowcap.studies.linear_baseline.compute import compute
from lowcap.studies.linear_baseline.config import LinearConfig
from lowcap.studies.linear_baseline.report import report, summary
from lowcap.studies.selection import Selection

STUDY = Study(
    "linear_baseline", LinearConfig, compute=compute, report=report, summary=summary,
    headline=("linear_baseline",), selection=lambda cfg: Selection(cfg.linear_baseline.select),
    command=Command("linear-baseline", "Logistic-regression baseline and exact linear separability "
                              "of each pair's training split; rebuilds the report."))
