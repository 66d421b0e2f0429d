"""The config reference (`lowcap config --schema`, docs/config.md), generated from the pydantic
models the registry assembles: every section, field, type, default and meaning, and the worked
examples in configs/examples/."""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from lowcap.run.config import ProtocolConfig, RunConfig, configs_dir
from lowcap.studies.registry import schema, studies
from lowcap.studies.selection import ModelFilter

INTRO = """# Config reference

A lowcap config is a YAML file: the run's settings, its protocols, and one section per study
you want to run (a study runs where its section is set; an empty mapping `{}` runs it with its
defaults). Unknown keys, NaN, and yes/no where a number belongs are errors naming the value.
Every default is written out in a run's `config.yaml`. The profiles `lowcap reproduce
--profile NAME` runs are configs too: `lowcap config paper` prints one.

This page is generated from the code (`lowcap config --schema`); a test keeps it current.
"""


def config_reference() -> str:
    """The whole reference as Markdown."""
    parts = [INTRO, "## Worked examples: your own studies\n"]
    for path in sorted((configs_dir() / "examples").glob("*.yaml")):
        parts.append(f"`configs/examples/{path.name}`:\n\n```yaml\n{path.read_text().strip()}\n"
                     "```\n")
    parts.append(_section("The run", "top level", RunConfig, skip={"protocols"}))
    presets = "\n".join(f"- `{name}`: {json.dumps(values)}"
                        for name, values in schema().protocol_presets.items())
    parts.append(_section("Protocols", "protocols: {reference: {...}, corrected: {...}}",
                          schema().model_fields["protocols"].annotation.__args__[0],
                          note="Each protocol starts from its preset; what you write overrides "
                               f"it. The presets:\n\n{presets}\n"))
    parts.append(_section("Model selections", "select: (inside an analysis's section)",
                          ModelFilter))
    for study in studies():
        parts.append(_section(f"`{study.name}`", f"{study.name}:", study.config,
                              command=study.command.name if study.command else None))
    return "\n".join(parts)


def _section(title: str, where: str, model: type[BaseModel], skip: set[str] = frozenset(),
             note: str = "", command: str | None = None) -> str:
    meanings = _comments(model)
    rows = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        meaning = info.description or meanings.get(name, "")
        rows.append(f"| `{name}` | {_type(info.annotation)} | {_default(info)} | "
                    f"{meaning.replace('|', '/')} |")
    doc = inspect.getdoc(model) or ""
    if model is not ProtocolConfig:
        doc = doc.split("\n\n")[0]
    head = f"## {title}\n\n`{where}` {doc}\n"
    if command:
        head += f"\nIts command: see `lowcap {command} --help`.\n"
    return head + (f"\n{note}" if note else "") + "\n" + "\n".join(rows) + "\n"


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """field → the comment written above it (or beside it) in the model's source, for every
    class of its hierarchy."""
    out: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        try:
            lines = inspect.getsource(cls).splitlines()
        except (OSError, TypeError):
            continue
        above: list[str] = []
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("#"):
                above.append(stripped.lstrip("# "))
                continue
            match = re.match(r"\s{4}(\w+): [^=]+(?:=.*)?$", line)
            if match and not stripped.startswith("_"):
                beside = line.split("  # ", 1)[1] if "  # " in line else ""
                text = " ".join([*above, beside]).strip()
                if text:
                    out[match.group(1)] = text
            above = []
    return out


def _type(annotation: Any) -> str:
    return f"`{_type_text(annotation)}`"


def _type_text(t: Any) -> str:
    """A type as a reader writes it: list[int], "relu" / "tanh", int or null."""
    origin, args = typing.get_origin(t), typing.get_args(t)
    if origin is typing.Annotated:
        return _type_text(args[0])
    if origin is typing.Literal:
        return " / ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        shown = [_type_text(a) for a in args if a is not type(None)]
        return " or ".join(shown + (["null"] if type(None) in args else []))
    if origin in (list, tuple):
        return f"{origin.__name__}[{', '.join(_type_text(a) for a in args)}]"
    return getattr(t, "__name__", str(t))


def _default(info: FieldInfo) -> str:
    if info.default is PydanticUndefined and info.default_factory is None:
        return "required"
    value = info.default_factory() if info.default_factory is not None else info.default
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    text = json.dumps(value, default=str)
    return f"`{text}`" if len(text) <= 60 else f"`{text[:57]}…`"
