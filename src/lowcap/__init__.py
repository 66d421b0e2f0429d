"""lowcap: the science of small neural networks.

Packages, one per concern:
  data         MNIST sources, verification and binary digit-pair tasks
  models       the plain reference MLP and the batched cohort of MLPs
  training     cohort training (SGD / full-batch GD) and batched metrics
  experiments  typed configuration, the results store, phases and resumable runs
  analyses     pruning, dead neurons, t-SNE, robustness, saliency
  report       figures, summary.json, the claims check and report.html
  cli          the `lowcap` command
"""

__version__ = "0.1.0"
