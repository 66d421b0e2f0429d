"""Calibration by width (Guo et al. 2017): the expected calibration error, the Brier score
and the reliability diagram of every selected model, dense and pruned."""

from lowcap.studies.base import Command, Study, option
from lowcap.studies.calibration.claims import CLAIMS
from lowcap.studies.calibration.compute import compute
from lowcap.studies.calibration.config import CalibrationConfig
from lowcap.studies.calibration.report import report, summary
from lowcap.studies.selection import Selection

STUDY = Study(
    "calibration", CalibrationConfig, compute=compute, report=report, summary=summary,
    claims=CLAIMS, selection=lambda cfg: Selection(cfg.calibration.select),
    command=Command(
        "calibration", "Calibration of each selected model's test-set probabilities (ECE over "
        "equal-width and equal-mass bins, Brier score, reliability diagram), dense and "
        "pruned: are wider networks worse calibrated? Rebuilds the report.",
        options=(option("--bins", "Bins of the ECE and the reliability diagram (15).", int),
                 option("--level", "Pruning level measured beside the dense model (0.95).",
                        float)),
        overrides=lambda bins, level: {"bins": bins, "level": level}))
