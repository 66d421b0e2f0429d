"""§4.6 robustness: Gaussian noise, occlusion and MNIST-C-style corruptions by width."""

from lowcap.studies.base import Command, Study, floats, ints, option
from lowcap.studies.robustness.claims import CLAIMS
from lowcap.studies.robustness.compute import compute
from lowcap.studies.robustness.config import RobustnessConfig
from lowcap.studies.robustness.report import report, run_report, summary
from lowcap.studies.selection import at_pair_and_widths

STUDY = Study(
    "robustness", RobustnessConfig, compute=compute, report=report, summary=summary,
    images=True,
    headline=("robustness",),
    claims=CLAIMS, run_report=run_report, selection=lambda cfg: at_pair_and_widths(cfg.robustness),
    command=Command(
        "robustness", "Gaussian noise, occlusion and MNIST-C-style corruptions (§4.6); rebuilds "
        "the report.",
        options=(option("--pair", "Digit pair, e.g. 4-9."),
                 option("--widths", "Comma-separated widths, e.g. 24,48,64."),
                 option("--sigmas", "Comma-separated Gaussian noise levels.")),
        overrides=lambda pair, widths, sigmas: {
            "pair": pair, "widths": ints(widths), "sigmas": floats(sigmas)}))
