"""The study registry: every study lowcap knows, in run and report order. The config schema,
the `lowcap` subcommands, the report's sections, `summary.json` and the claims table are all
assembled from it. Adding a study is one folder under `lowcap/studies/` and one line here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import Field, create_model

from lowcap.errors import StoreError, UserInputError
from lowcap.run import config as core
from lowcap.run.store import Store
from lowcap.studies import (
    ablation,
    adversarial,
    calibration,
    capacity,
    cnn_baseline,
    dead_neurons,
    double_descent,
    faithfulness,
    linear_baseline,
    lr_grid,
    narrow,
    pruning,
    robustness,
    saliency,
    saliency_shift,
    sensitivity,
    sensitivity_scale,
    sweep,
    tickets,
    tsne,
    unit_information,
)
from lowcap.studies.base import Study

# Training studies first (capacity before the LR grid, which reuses its models at the main
# learning rate: same plan, same model id), then analyses in the paper's section order; the
# linear baseline trains nothing and reports beside the capacity table.
_STUDIES: list[Study] = [
    capacity.STUDY,
    linear_baseline.STUDY,
    cnn_baseline.STUDY,
    lr_grid.STUDY,
    sweep.STUDY,
    pruning.STUDY,
    tickets.STUDY,
    dead_neurons.STUDY,
    unit_information.STUDY,
    calibration.STUDY,
    tsne.STUDY,
    robustness.STUDY,
    adversarial.STUDY,
    double_descent.STUDY,
    saliency.STUDY,
    faithfulness.STUDY,
    saliency_shift.STUDY,
    sensitivity.STUDY,
    sensitivity_scale.STUDY,
    narrow.STUDY,
    ablation.STUDY,
]


def studies() -> tuple[Study, ...]:
    """Every registered study, in order."""
    return tuple(_STUDIES)


def configured(cfg: Any) -> list[Study]:
    """The studies whose config section `cfg` sets."""
    return [s for s in _STUDIES if getattr(cfg, s.name, None) is not None]


@contextmanager
def registered(study: Study) -> Iterator[Study]:
    """`study` registered (last) while the block runs: how tests and notebooks try a study
    without editing this file."""
    if any(s.name == study.name for s in _STUDIES):
        raise ValueError(f"a study named {study.name!r} is already registered")
    _STUDIES.append(study)
    _schema.cache_clear()
    try:
        yield study
    finally:
        _STUDIES.remove(study)
        _schema.cache_clear()


@cache  # keyed by the registered studies' names: one schema class per registry state
def _schema(names: tuple[str, ...]) -> type[core.RunConfig]:
    protocol = create_model(
        "ProtocolConfig", __base__=core.ProtocolConfig,
        **{k: v for s in _STUDIES for k, v in s.protocol_fields.items()})
    sections: dict[str, Any] = {s.name: (s.config | None, None) for s in _STUDIES}
    model = create_model("ExperimentConfig", __base__=core.RunConfig,
                         __doc__="A whole experiment: the run's settings and each study's "
                                 "section (a study runs where its section is set).",
                         protocols=(list[protocol], Field(min_length=1)), **sections)
    model.protocol_presets = {
        name: {**preset, **{k: v for s in _STUDIES for k, v in s.protocol_presets.get(
            name, {}).items()}}
        for name, preset in core.PROTOCOL_PRESETS.items()}
    return model


def schema() -> type[core.RunConfig]:
    """The full config schema: `RunConfig` plus one optional section per study (and the
    studies' protocol fields)."""
    return _schema(tuple(s.name for s in _STUDIES))


def parse_config(data: Any, origin: str) -> core.RunConfig:
    """Validate a mapping against the full schema (see `lowcap.run.config.parse_config`)."""
    return core.parse_config(schema(), data, origin)


def load_config(path: Path) -> core.RunConfig:
    """Read and validate a YAML config file against the full schema."""
    return core.load_config(schema(), path)


def stored_config(store: Store) -> core.RunConfig:
    """The config a run's store holds (what the run last ran): the run's truth, whatever its
    config.yaml now says. StoreError when it holds none or one this lowcap cannot read (a
    damaged store: not the user's input)."""
    stored = store.get_meta("config")
    if stored is None:
        raise StoreError(f"{store.path}: the store holds no run yet (killed before its first "
                         "commit?); run `lowcap reproduce --out DIR` to start it again")
    try:
        return parse_config(stored, f"{store.path} (the run's config)")
    except UserInputError as exc:
        raise StoreError(f"{store.path}: the config the store holds is damaged ({exc}); "
                         "restore the run folder from a copy, or start the run again with "
                         "--fresh") from exc
