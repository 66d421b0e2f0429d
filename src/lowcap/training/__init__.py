"""Cohort training (SGD / full-batch GD) and batched binary-classification metrics."""

from lowcap.training.batches import epoch_order, updates_per_epoch
from lowcap.training.evaluation import EvalSet, evaluate
from lowcap.training.metrics import LabelLayout, classification_metrics, cohort_metrics
from lowcap.training.precision import matmul_description, matmul_precision
from lowcap.training.trainer import METRIC_NAMES, EpochResult, evaluated, train_cohort

__all__ = [
    "METRIC_NAMES", "EpochResult", "EvalSet", "LabelLayout", "classification_metrics",
    "cohort_metrics", "epoch_order", "evaluate", "evaluated", "matmul_description",
    "matmul_precision", "train_cohort", "updates_per_epoch",
]
