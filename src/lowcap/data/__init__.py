"""MNIST sources and verification, IDX files, and binary digit-pair tasks."""

from lowcap.data.bank import ImageBank
from lowcap.data.loading import LoadedMNIST, load_mnist
from lowcap.data.mnist import MNIST, verify
from lowcap.data.tasks import PAPER_PAIRS, TaskSplit, check_pair, make_split, pair_key

__all__ = [
    "MNIST", "PAPER_PAIRS", "ImageBank", "LoadedMNIST", "TaskSplit", "check_pair", "load_mnist",
    "make_split", "pair_key", "verify",
]
