"""Companion paper A at Novak et al.'s scale: thousands of MLPs of depth 1–3 over widths,
optimisers, batch sizes, augmentation, random labels and datasets, each measured for its
test-point Jacobian norm and transitions against its generalization gap."""

from lowcap.studies.base import Command, Study, ints, names, option
from lowcap.studies.sensitivity_scale.compute import compute, population
from lowcap.studies.sensitivity_scale.config import SensitivityScaleConfig
from lowcap.studies.sensitivity_scale.report import run_report

COMMAND = Command(
    "sensitivity-scale", "Novak-scale sensitivity study: trains the factor grid (depth, "
    "width, optimiser, batch size, augmentation, labels, dataset), measures every model; "
    "rebuilds the report.",
    options=(option("--datasets", "Comma-separated datasets, e.g. mnist,digits."),
             option("--depths", "Comma-separated depths (1–3)."),
             option("--widths", "Comma-separated widths."),
             option("--seeds", "Comma-separated seeds.")),
    overrides=lambda datasets, depths, widths, seeds: {
        "datasets": names(datasets), "depths": ints(depths), "widths": ints(widths),
        "seeds": ints(seeds)})
STUDY = Study("sensitivity_scale", SensitivityScaleConfig, compute=compute,
              run_report=run_report, command=COMMAND,
              trains=lambda cfg: [("sensitivity_scale", plan)
                                  for plan in population(cfg.sensitivity_scale)])
