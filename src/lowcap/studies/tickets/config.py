"""The lottery-ticket study's config section."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from lowcap.data.tasks import PAPER_PAIRS
from lowcap.run.config import ConfigSection, Pair, PositiveInt, Seed, parse_pairs


class TicketsConfig(ConfigSection):
    """Iterative magnitude pruning (IMP) with rewinding, its two controls (random
    reinitialisation, random mask), and one-shot pruning with and without fine-tuning, for
    every (pair, width, seed) below under each protocol of the run."""

    pairs: list[Pair] = Field(default_factory=lambda: [tuple(p) for p in PAPER_PAIRS],
                              min_length=1)
    widths: list[PositiveInt] = Field(default=[12, 24, 64], min_length=1)
    # The protocol's seeds, at most this many (the first ones).
    seeds: PositiveInt = 3
    # Share of the remaining weights pruned per round (Frankle & Carbin: 20%).
    fraction: float = Field(0.2, gt=0, lt=1)
    # Rounds of pruning and retraining: 21 rounds of 20% leave 0.8^21 ≈ 0.9% of the weights.
    rounds: PositiveInt = 21
    # Pruning over w1 and w2 together (global) or per layer (layerwise).
    scope: Literal["global", "layerwise"] = "global"
    # Rewind to the initialisation (0, Frankle & Carbin 2019) or to the weights after this
    # many epochs of dense training ("late rewinding", Frankle et al. 2020).
    rewind_epoch: int = Field(0, strict=True, ge=0)
    # Training images per pair in every round (None: the whole training split) and epochs per
    # round (None: the run's): IMP trains (4 × rounds + 1) × the models, so a CPU needs less.
    train_size: PositiveInt | None = 1024
    epochs: PositiveInt | None = None
    # Validation F1 after every k-th epoch of a round and its last: the stored number is the
    # best of those (the dense models' is read at the same epochs). The validation split is
    # larger than a round's training images, so evaluating it each epoch is most of the work.
    evaluate_every: PositiveInt = 1
    # Seed offset of the random-reinitialisation control's fresh initialisation.
    reinit_offset: Seed = 1000

    _pairs = field_validator("pairs", mode="before")(parse_pairs)
