"""Neuron-level interpretability (the paper's future work): mutual information between each
hidden unit and the label, per model, before and after pruning."""

from lowcap.studies.base import Command, Study, option
from lowcap.studies.selection import Selection
from lowcap.studies.unit_information.compute import compute
from lowcap.studies.unit_information.config import UnitInformationConfig
from lowcap.studies.unit_information.report import report, summary

STUDY = Study(
    "unit_information", UnitInformationConfig, compute=compute, report=report, summary=summary,
    selection=lambda cfg: Selection(cfg.unit_information.select),
    command=Command(
        "unit-info", "Mutual information between each hidden unit and the label, dense and "
        "pruned: do small networks have more specialised units? Rebuilds the report.",
        options=(option("--bins", "Bins of the plug-in MI estimate (16).", int),),
        overrides=lambda bins: {"bins": bins}))
