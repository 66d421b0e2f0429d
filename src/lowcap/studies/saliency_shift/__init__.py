"""Saliency under corruption (the paper's future work): how attribution maps shift as Gaussian
noise and occlusion grow, per width, next to the accuracy on the same images."""

from lowcap.studies.base import Command, Study, option
from lowcap.studies.saliency_shift.compute import compute
from lowcap.studies.saliency_shift.config import SaliencyShiftConfig
from lowcap.studies.saliency_shift.report import report, summary
from lowcap.studies.selection import at_pair_and_widths

STUDY = Study(
    "saliency_shift", SaliencyShiftConfig, compute=compute, report=report, summary=summary,
    images=True,
    selection=lambda cfg: at_pair_and_widths(cfg.saliency_shift),
    command=Command(
        "saliency-shift", "Saliency maps under Gaussian noise and occlusion beside F1: does "
        "attention move before accuracy drops? Rebuilds the report.",
        options=(option("--max-images", "Validation images per model (200).", int),),
        overrides=lambda max_images: {"max_images": max_images}))
