"""Companion paper B (Zhang et al. 2021): narrow networks trained by projected gradient
methods vs SGD and Adam."""

from lowcap.studies.base import Command, Study, names, option
from lowcap.studies.narrow.compute import compute
from lowcap.studies.narrow.config import NarrowConfig
from lowcap.studies.narrow.report import run_report

STUDY = Study(
    "narrow", NarrowConfig, compute=compute, run_report=run_report,
    command=Command(
        "narrow", "Narrow networks trained by projected gradient methods (companion paper B); "
        "rebuilds the report.",
        options=(option("--datasets", "Comma-separated: synthetic, mnist, mnist_random, "
                                      "digits, mnist1d."),
                 option("--steps", f"Training steps per run ({NarrowConfig().steps}).", int)),
        overrides=lambda datasets, steps: {"datasets": names(datasets), "steps": steps}))
