"""lowcap: the science of small neural networks.

Packages, one per concern (docs/architecture.md):
  data         MNIST sources, verification and binary digit-pair tasks
  models       the plain reference MLP, its functional forward pass, the batched cohort
  training     cohort training (SGD / full-batch GD) and batched metrics
  run          the core config, model plans, the results store, resumable runs, executors
  studies      one folder per study, and the registry the rest is assembled from
  report       summary.json, the claims check and report.html, assembled from the studies
  cli          the `lowcap` command
"""

import os

__version__ = "0.1.0"

# Intel's MKL may round one GEMM differently from one call to the next: some of its kernels
# depend on the data's memory alignment, and with MKL_DYNAMIC it picks a thread count at run
# time. Strict conditional numerical reproducibility (on the CPU's own, fastest code path) and
# a fixed thread count make a run's numbers a function of its inputs, so a resumed run ends
# bit for bit where an uninterrupted one does. MKL reads both when it first computes; a
# user's own setting wins.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
os.environ.setdefault("MKL_DYNAMIC", "FALSE")


def __getattr__(name: str):
    """`lowcap.open_run`, imported on first use (pandas stays out of the CLI's start-up)."""
    if name == "open_run":
        from lowcap.api import open_run

        return open_run
    raise AttributeError(f"module 'lowcap' has no attribute {name!r}")
