"""The ablation's cells: each a protocol (the base, with every factor at one of its levels) and
the run's config narrowed to the ablation's grid and analyses. The anchors are the run's own
protocols on the same grid, to compare the cells with."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Any, get_args

from pydantic import ValidationError

from lowcap.errors import UserInputError
from lowcap.run.config import ProtocolConfig, RunConfig
from lowcap.studies.ablation.config import RUN_FIELDS, AblationConfig, RunOverrides
from lowcap.studies.base import refusal

ABLATION = "ablation"  # the protocol name of a cell that is none of the run's protocols
TRAINING = "capacity"  # the training study whose models every cell trains (its grid)


@dataclass(frozen=True)
class Cell:
    """One cell of the design (or an anchor: `levels` empty)."""

    name: str
    levels: dict[str, str]  # factor → level
    cfg: Any  # the run's config narrowed to the cell: its protocol, grid and analyses
    protocol: ProtocolConfig


def _registry():
    from lowcap.studies import registry  # the registry imports this study

    return registry


def analysis_studies(spec: AblationConfig) -> list:
    """The registered studies the cells run (registry order): the capacity sweep and those
    named in `analyses`."""
    return [s for s in _registry().studies() if s.name in spec.analyses or s.name == TRAINING]


def _protocol_class() -> type[ProtocolConfig]:
    """The protocol class of the full schema (with the studies' protocol fields)."""
    annotation = _registry().schema().model_fields["protocols"].annotation
    return get_args(annotation)[0]


def _fail(where: str, exc: ValidationError) -> UserInputError:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"])
    msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
    return UserInputError(f"{where}: {field + ': ' if field else ''}"
                          f"{msg.removeprefix('Value error, ')}")


def _protocol(spec: AblationConfig, base: dict, levels: dict[str, str], name: str,
              where: str) -> tuple[ProtocolConfig, RunOverrides]:
    """The protocol and run overrides of a cell: base, then `protocol`, then each level."""
    fields = {**base, **spec.protocol}
    run: dict[str, Any] = {}
    for factor, level in levels.items():
        for key, value in spec.factors[factor][level].items():
            (run if key in RUN_FIELDS else fields)[key] = value
    try:
        return (_protocol_class().model_validate({**fields, "name": name}),
                RunOverrides.model_validate(run))
    except ValidationError as exc:
        raise _fail(where, exc) from exc


def _base(cfg: RunConfig | None, spec: AblationConfig) -> dict:
    """The base protocol's fields: the run's own where it has that protocol, else the preset."""
    if cfg is not None and spec.base in {p.name for p in cfg.protocols}:
        return cfg.protocol(spec.base).model_dump(exclude={"name"})
    return dict(_registry().schema().protocol_presets[spec.base])


def check_design(spec: AblationConfig) -> None:
    """UserInputError naming the level or analysis that is not valid (the run's own protocol
    values are not known here: the presets stand in)."""
    base = _base(None, spec)
    analyses = analysis_studies(spec)
    for factor, levels in spec.factors.items():
        for level in levels:
            where = f"ablation.factors.{factor}.{level}"
            protocol, _ = _protocol(spec, base, {factor: level}, ABLATION, where)
            for study in analyses:
                reason = refusal(study, protocol)
                if reason is not None:
                    raise UserInputError(f"{where}: {reason}")
    _protocol(spec, base, {}, ABLATION, "ablation.protocol")
    known = {s.name: s for s in _registry().studies()}
    for name, fields in spec.analyses.items():
        study = known.get(name)
        if study is None or (study.summary is None):
            usable = [s.name for s in known.values() if s.summary is not None]
            raise UserInputError(f"ablation.analyses: {name!r} is not a study the cells can run; "
                                 f"use {', '.join(usable)}")
        try:
            study.config.model_validate(fields)
        except ValidationError as exc:
            raise _fail(f"ablation.analyses.{name}", exc) from exc


def _narrowed(cfg: RunConfig, spec: AblationConfig, protocol: ProtocolConfig,
              run: RunOverrides) -> Any:
    """The run's config with only the cell's protocol, grid and analysis sections."""
    sections: dict[str, Any] = {s.name: None for s in _registry().studies()}
    for study in analysis_studies(spec):
        fields = dict(spec.analyses.get(study.name, {}))
        if study.plans is not None:  # the training study: the grid's pairs
            fields["pairs"] = spec.pairs
        sections[study.name] = study.config.model_validate(fields)
    changes = {k: v for k, v in run.model_dump().items() if v is not None}
    return cfg.model_copy(update={**sections, **changes, "widths": list(spec.widths),
                                  "protocols": [protocol]})


def _trains_as(protocol: ProtocolConfig) -> dict:
    """What a protocol's models are made of (an update budget at the protocol's own batch size
    is no budget at all)."""
    return {**protocol.model_dump(exclude={"name", "budget_batch_size"}),
            "budget": protocol.budget}


def _named(known: list[ProtocolConfig], protocol: ProtocolConfig, run: RunOverrides) -> str:
    """The name of the anchor protocol the cell trains exactly as (its models are then the
    anchor's own: same ids, trained once), else `ablation`."""
    if any(v is not None for v in run.model_dump().values()):
        return ABLATION
    for p in known:
        if _trains_as(p) == _trains_as(protocol):
            return p.name
    return ABLATION


def cells(cfg: RunConfig) -> list[Cell]:
    """Every cell of the factorial design, the first factor varying slowest."""
    spec: AblationConfig = cfg.ablation
    base = _base(cfg, spec)
    known = [a.protocol for a in anchors(cfg)]
    out = []
    varied = spec.varied()
    for combination in product(*(list(levels) for levels in varied.values())):
        levels = dict(zip(varied, combination, strict=True))
        where = "ablation cell " + "·".join(combination)
        protocol, run = _protocol(spec, base, {**spec.fixed(), **levels}, ABLATION, where)
        name = _named(known, protocol, run)
        if name != ABLATION:
            protocol = protocol.model_copy(update={"name": name})
        out.append(Cell("·".join(combination), levels, _narrowed(cfg, spec, protocol, run),
                        protocol))
    return out


def anchors(cfg: RunConfig) -> list[Cell]:
    """The run's protocols on the ablation's grid (with `ablation.protocol` applied)."""
    spec: AblationConfig = cfg.ablation
    out = []
    for p in cfg.protocols:
        protocol, run = _protocol(spec, p.model_dump(exclude={"name"}), {}, p.name,
                                  f"ablation anchor {p.name}")
        out.append(Cell(f"protocol {p.name}", {}, _narrowed(cfg, spec, protocol, run), protocol))
    return out
