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

__version__ = "0.1.0"


def __getattr__(name: str):
    """`lowcap.open_run`, imported on first use (pandas stays out of the CLI's start-up)."""
    if name == "open_run":
        from lowcap.api import open_run

        return open_run
    raise AttributeError(f"module 'lowcap' has no attribute {name!r}")
