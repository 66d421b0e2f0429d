"""The MNIST arrays and the facts that identify the real dataset."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np

from lowcap.errors import DataError

log = logging.getLogger(__name__)

TRAIN_CLASS_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_CLASS_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
FIRST_TRAIN_LABELS = (5, 0, 4, 1, 9, 2, 1, 3, 1, 4)
FIRST_TEST_LABELS = (7, 2, 1, 0, 4, 1, 4, 9, 5, 9)
# sha256 over the four uint8 arrays (train images, train labels, test images, test labels),
# computed on the real MNIST; every source's result must hash to it.
CONTENT_SHA256 = "06b0d1f124c4e5fa796686ade41a9b778edacc8622f2195a352ef479ad44fc16"


@dataclass(frozen=True)
class MNIST:
    """The 60,000 training and 10,000 test images (uint8, 28×28) with their labels."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    def content_sha256(self) -> str:
        """sha256 of the four arrays' bytes, in a fixed order."""
        digest = hashlib.sha256()
        for array in (self.train_images, self.train_labels, self.test_images, self.test_labels):
            digest.update(np.ascontiguousarray(array, dtype=np.uint8).tobytes())
        return digest.hexdigest()


def verify(mnist: MNIST, origin: str) -> None:
    """Check the arrays are the real MNIST; DataError naming `origin` at the first mismatch."""
    checks = [
        (mnist.train_images.shape == (60000, 28, 28), "training images shape"),
        (mnist.test_images.shape == (10000, 28, 28), "test images shape"),
        (mnist.train_labels.shape == (60000,), "training labels shape"),
        (mnist.test_labels.shape == (10000,), "test labels shape"),
    ]
    for ok, what in checks:
        if not ok:
            raise DataError(f"{origin}: {what} is not MNIST's")
    facts = [
        (tuple(np.bincount(mnist.train_labels, minlength=10)[:10]), TRAIN_CLASS_COUNTS,
         "training class counts"),
        (tuple(np.bincount(mnist.test_labels, minlength=10)[:10]), TEST_CLASS_COUNTS,
         "test class counts"),
        (tuple(mnist.train_labels[:10]), FIRST_TRAIN_LABELS, "first ten training labels"),
        (tuple(mnist.test_labels[:10]), FIRST_TEST_LABELS, "first ten test labels"),
    ]
    for got, want, what in facts:
        if tuple(int(v) for v in got) != want:
            raise DataError(f"{origin}: {what} {list(got)} differ from MNIST's {list(want)}")
    sha = mnist.content_sha256()
    if sha != CONTENT_SHA256:
        raise DataError(f"{origin}: content checksum {sha[:16]}… is not MNIST's")
