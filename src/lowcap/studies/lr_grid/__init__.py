"""§4.1 learning-rate grid: one pair, every width × learning rate × seed."""

from lowcap.studies.base import Study
from lowcap.studies.lr_grid.report import LRGridConfig, plans, report

STUDY = Study("lr_grid", LRGridConfig, plans=plans, report=report, headline=("lr_grid",))
