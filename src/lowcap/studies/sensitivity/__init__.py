"""Companion paper A (Novak et al. 2018): Jacobian sensitivity vs generalization over the
capacity sweep and its factor variants."""

from pathlib import Path

from lowcap.errors import UserInputError
from lowcap.studies.base import Command, Study, ints, names, option
from lowcap.studies.capacity.report import plans as capacity_plans
from lowcap.studies.sensitivity.compute import compute, population
from lowcap.studies.sensitivity.config import SensitivityConfig
from lowcap.studies.sensitivity.report import run_report


def _needs_capacity(cfg, directory: Path) -> None:
    protocol = cfg.sensitivity.protocol
    if protocol not in {p.name for p in cfg.protocols} or not capacity_plans(
            cfg, cfg.protocol(protocol)):
        raise UserInputError(f"{directory}: the sensitivity study measures the capacity sweep of "
                             f"the {protocol!r} protocol, which this run does not have")


def _variants(cfg) -> list:
    """The variant models the study trains, labelled 'sensitivity/<variant>'."""
    if cfg.sensitivity.protocol not in {p.name for p in cfg.protocols}:
        return []
    return [(f"sensitivity/{variant}", plan)
            for variant, plan in population(cfg, cfg.sensitivity) if variant != "base"]


COMMAND = Command(
    "sensitivity", "Jacobian sensitivity vs generalization (companion paper A): trains the "
    "factor variants the study needs, measures every model; rebuilds the report.",
    options=(option("--pairs", "Comma-separated digit pairs, e.g. 4-9,3-8."),
             option("--widths", "Comma-separated widths of the variant models.")),
    overrides=lambda pairs, widths: {"pairs": names(pairs), "widths": ints(widths)},
    check=_needs_capacity)
STUDY = Study("sensitivity", SensitivityConfig, compute=compute, run_report=run_report,
              command=COMMAND, trains=lambda cfg: _variants(cfg))
