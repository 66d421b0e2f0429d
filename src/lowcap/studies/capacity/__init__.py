"""§4.2 capacity sweep: pairs × widths × seeds at the main learning rate; minimum capacity."""

from lowcap.studies.base import Study
from lowcap.studies.capacity.claims import CLAIMS
from lowcap.studies.capacity.config import CapacityConfig
from lowcap.studies.capacity.report import plans, report, summary

STUDY = Study("capacity", CapacityConfig, plans=plans, report=report, summary=summary,
              headline=("capacity",), claims=CLAIMS)
