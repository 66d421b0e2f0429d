"""A CNN baseline (the paper's future work): LeNet-like networks with a width knob on the
same pairs and splits, their capacity curve beside the MLP's."""

from lowcap.studies.base import Command, Study, ints, option
from lowcap.studies.capacity.config import CapacityConfig
from lowcap.studies.cnn_baseline.compute import compute
from lowcap.studies.cnn_baseline.config import CnnBaselineConfig
from lowcap.studies.cnn_baseline.report import report, summary

STUDY = Study(
    "cnn_baseline", CnnBaselineConfig, compute=compute, report=report, summary=summary,
    images=True,
    command=Command(
        "cnn-baseline", "Train LeNet-like CNNs of several widths on the run's pairs and splits "
        "(resuming per width); their capacity curve beside the MLP's. Rebuilds the report.",
        options=(option("--channels", "First-layer channels, e.g. 1,2,4,8."),
                 option("--epochs", "Training epochs (15).", int)),
        overrides=lambda channels, epochs: {"channels": ints(channels), "epochs": epochs}),
    reads=(CapacityConfig,))  # its MLP curve and capacity rule, where the section is set
