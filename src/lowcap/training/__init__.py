"""Cohort training (SGD / full-batch GD) and batched binary-classification metrics."""

from lowcap.training.batches import epoch_order, updates_per_epoch
from lowcap.training.evaluation import EvalSet, evaluate
from lowcap.training.metrics import classification_metrics, f1_at_half, roc_auc
from lowcap.training.trainer import (
    METRIC_NAMES,
    EpochResult,
    matmul_description,
    matmul_precision,
    sgd_step,
    train_cohort,
)

__all__ = [
    "METRIC_NAMES", "EpochResult", "EvalSet", "classification_metrics", "epoch_order", "evaluate",
    "f1_at_half", "matmul_description", "matmul_precision", "roc_auc", "sgd_step",
    "train_cohort", "updates_per_epoch",
]
