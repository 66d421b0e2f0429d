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
