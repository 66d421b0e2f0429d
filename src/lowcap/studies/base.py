"""What a study is: one folder that declares its config section, the models it trains or reads,
its resumable compute, its report section, its claims and its command — and nothing else
needs to know it exists (`lowcap.studies.registry` assembles them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from lowcap.data.datasets import facts
from lowcap.errors import UserInputError
from lowcap.parsing import Number, parse_number
from lowcap.report.claims import Claim
from lowcap.run.config import ConfigSection, ProtocolConfig, RunConfig
from lowcap.run.context import RunContext
from lowcap.run.plan import ModelPlan
from lowcap.run.store import Store
from lowcap.studies.selection import Selection

S = TypeVar("S", bound=ConfigSection)


def section(cfg: Any, kind: type[S]) -> S | None:
    """The section of type `kind` that `cfg` sets (None where it is unset), typed: how a study
    reads its own section, or another study's that it declares in `Study.reads`."""
    return next((value for value in vars(cfg).values() if type(value) is kind), None)


@dataclass(frozen=True)
class ReportInput:
    """What a study's report reads: the store (never MNIST), the run's config and folders."""

    store: Store
    cfg: Any  # the registry's ExperimentConfig: RunConfig with every study's section
    out: Path
    protocol: ProtocolConfig | None = None  # None for a run-wide section

    @property
    def figures(self) -> Path:
        return self.out / "figures"


@dataclass
class Section:
    """A study's part of the report: summary keys, figures, and its HTML (tables, text).
    Per protocol, claims are checked on the summary; run-wide sections bring their own."""

    summary: dict = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)
    html: str = ""
    claims: list[dict] = field(default_factory=list)
    # A short table of the paper's reported numbers beside this run's, for the report's first
    # screen ("" where the paper reports none for what the run measured).
    headline: str = ""


@dataclass(frozen=True)
class Command:
    """The study's `lowcap` subcommand: options that override its config section, then its
    compute on an existing run (`kind="analysis"`), or a whole config trained into a new run
    (`kind="train"`)."""

    name: str
    help: str
    options: tuple[Callable, ...] = ()  # click.option decorators
    overrides: Callable[..., dict] = lambda **_: {}  # option values → section fields
    check: Callable[[Any, Path], None] | None = None  # refuse a run it cannot work on
    kind: str = "analysis"


PlanFn = Callable[[RunConfig, ProtocolConfig], list[ModelPlan]]
ComputeFn = Callable[[RunContext, Any, ProtocolConfig], bool]
ReportFn = Callable[[ReportInput], Section]


@dataclass(frozen=True)
class Study:
    """One study. `name` is its config section, summary key and timing prefix."""

    name: str
    config: type[ConfigSection]
    plans: PlanFn | None = None  # a training study: the models it trains under a protocol
    compute: ComputeFn | None = None  # an analysis: returns whether it did work
    report: ReportFn | None = None  # per protocol
    # The summary keys its claims read, from the store alone and without figures (per
    # protocol; the protocol ablation evaluates it in every cell).
    summary: Callable[[ReportInput], dict] | None = None
    headline: tuple[str, ...] = ()  # summary keys also shown at the top level (default protocol)
    claims: tuple[Claim, ...] = ()  # checked on each protocol's summary
    run_report: ReportFn | None = None  # once per run (studies not tied to one protocol)
    command: Command | None = None
    # Models a study trains besides `plans` (label, plan), e.g. the sensitivity variants.
    trains: Callable[[Any], list[tuple[str, ModelPlan]]] | None = None
    # Reads its inputs as 28×28 images (occluders, maps, convolutions): it runs only where
    # every protocol's dataset is 28×28 (mnist, fashion_mnist, kmnist).
    images: bool = False
    # Which trained models an analysis reads, from the config (an empty one is refused).
    selection: Callable[[Any], Selection] | None = None
    # Fields the study adds to every protocol (name → (type, default)), and their values in
    # a protocol's preset (protocol name → {field: value}).
    protocol_fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    protocol_presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Other studies' config sections it reads where they are set (through `section`), e.g.
    # the model the t-SNE section embeds; a test holds every such read to this declaration.
    reads: tuple[type[ConfigSection], ...] = ()


def refusal(study: Study, protocol: ProtocolConfig) -> str | None:
    """Why `study` cannot run on `protocol`'s models (None: it can)."""
    shape = facts(protocol.dataset).shape
    if study.images and shape != (28, 28):
        return (f"{study.name}: it reads 28×28 images, and protocol {protocol.name} trains on "
                f"{protocol.dataset} {shape}; remove the {study.name} section or use a 28×28 "
                "dataset (mnist, fashion_mnist, kmnist)")
    return None


def names(text: str | None) -> list[str] | None:
    """A comma-separated option as a list (None when not given); the config validates it."""
    return text.split(",") if text else None


def comma(text: str | None, kind: type = float) -> list | None:
    """Comma-separated values (None when not given): numbers parsed by `parse_number`, or
    names (`kind=str`); UserInputError naming the text when one is not a `kind`."""
    if text is None:
        return None
    if kind is str:
        return text.split(",")
    try:
        return [parse_number(v, kind) for v in text.split(",")]
    except UserInputError as exc:
        raise UserInputError(f"{text!r}: {exc}; expected comma-separated "
                             f"{'whole numbers' if kind is int else 'numbers'}") from None


def floats(text: str | None) -> list[float] | None:
    """Comma-separated numbers (None when not given)."""
    return comma(text, float)


def ints(text: str | None) -> list[int] | None:
    """Comma-separated whole numbers (None when not given)."""
    return comma(text, int)


def option(name: str, help: str, kind: type = str) -> Callable:
    """A study command's option: None unless given, so the config's value stays; numbers are
    read strictly (`Number`)."""
    return click.option(name, type=Number(kind) if kind in (int, float) else kind,
                        default=None, help=help)
