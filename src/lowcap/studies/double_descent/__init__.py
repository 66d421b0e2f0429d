"""Model-wise double descent (Nakkiran et al. 2019): test error against width across the
interpolation threshold, with and without label noise, on MNIST-1D by default."""

from pathlib import Path

from lowcap.errors import UserInputError
from lowcap.studies.base import Command, Study, floats, ints, names, option
from lowcap.studies.double_descent.claims import CLAIMS
from lowcap.studies.double_descent.compute import compute
from lowcap.studies.double_descent.config import DoubleDescentConfig, plans
from lowcap.studies.double_descent.report import report, summary


def _needs_protocol(cfg, directory: Path) -> None:
    protocol = cfg.double_descent.protocol
    if protocol not in {p.name for p in cfg.protocols}:
        raise UserInputError(f"{directory}: the double-descent models take the seeds of the "
                             f"{protocol!r} protocol, which this run does not have; run them "
                             "on their own with `lowcap reproduce --profile double_descent`")


STUDY = Study(
    "double_descent", DoubleDescentConfig, plans=plans, compute=compute, report=report,
    summary=summary, claims=CLAIMS,
    command=Command(
        "double-descent", "Model-wise double descent: trains models of every width on n "
        "samples with and without flipped labels, into an existing run (its other models "
        "untouched), and measures train and test error; rebuilds the report.",
        options=(option("--datasets", "Comma-separated: mnist1d, mnist_pca or another "
                                      "dataset (mnist1d)."),
                 option("--label-noise", "Comma-separated fractions of flipped training "
                                         "labels, e.g. 0,0.2."),
                 option("--train-sizes", "Comma-separated training sizes n, e.g. 200,400."),
                 option("--widths", "Comma-separated widths, spanning parameters ≈ n."),
                 option("--epochs", "Full-batch Adam epochs (2000).", int)),
        overrides=lambda datasets, label_noise, train_sizes, widths, epochs: {
            "datasets": names(datasets), "label_noise": floats(label_noise),
            "train_sizes": ints(train_sizes), "widths": ints(widths), "epochs": epochs},
        check=_needs_protocol))
