"""The CNN baseline's config section."""

from __future__ import annotations

from pydantic import Field, field_validator

from lowcap.run.config import ConfigSection, Pair, PositiveInt, parse_pairs


class CnnBaselineConfig(ConfigSection):
    """A second architecture family for §4.2: LeNet-like CNNs with a width knob on the same
    pairs and splits as the MLPs (each protocol's seeds, balance and split draws), trained
    with their own optimiser settings; their capacity curve beside the MLP's."""

    # Digit pairs trained (their splits are the protocol's).
    pairs: list[Pair] = Field(default=[(4, 9)], min_length=1)
    # First-layer channels c (the second layer has 2c): 111 parameters at c = 1, 3,681 at 8.
    channels: list[PositiveInt] = Field(default=[1, 2, 4, 8], min_length=1)
    # Learning rate of plain SGD on the binary cross-entropy, float32, for every protocol (the
    # protocols' batch size and precision are the MLP's; 100 full-batch steps leave a CNN
    # untrained).
    lr: float = Field(0.1, gt=0)
    # Training epochs.
    epochs: PositiveInt = 15
    # Mini-batch size.
    batch_size: PositiveInt = 128
    # Training images per pair (a random subset of the protocol's training split; None: all).
    train_size: PositiveInt | None = 1024

    _pairs = field_validator("pairs", mode="before")(parse_pairs)
