"""Why the paper's findings appear: a factorial ablation of the protocol (optimiser,
initialisation, class balance, update budget, and any factor a config adds), each claim's
verdict per cell and each factor's main effect, explained in generated sentences."""

from lowcap.studies.ablation.compute import compute, labelled_plans
from lowcap.studies.ablation.config import AblationConfig
from lowcap.studies.ablation.report import run_report
from lowcap.studies.base import Command, Study, ints, names, option


def _overrides(factors, pairs, widths) -> dict:
    return {"vary": names(factors), "pairs": names(pairs), "widths": ints(widths)}


STUDY = Study(
    "ablation", AblationConfig, compute=compute, run_report=run_report,
    trains=labelled_plans,
    command=Command(
        "ablate", "The protocol ablation (factorial design over the protocols' choices): trains "
        "every cell's models into the run's store, measures them, explains each claim; "
        "rebuilds the report.",
        options=(option("--factors", "Comma-separated factors of the config to vary (the others "
                                     "stay at their first level), e.g. optimiser,budget."),
                 option("--pairs", "Comma-separated digit pairs, e.g. 0-1,4-9."),
                 option("--widths", "Comma-separated widths, e.g. 1,2,4,8.")),
        overrides=_overrides))
