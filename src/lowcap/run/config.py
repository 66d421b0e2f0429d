"""Typed, validated run configuration (YAML → pydantic models): what every run shares.

Every default is spelled out when the resolved config is written to a run's `config.yaml`.
Each study adds its own section (a `ConfigSection`); the registry assembles the full schema.
Protocol presets (`reference`, `corrected`) fill whatever a YAML file leaves unsaid; see
docs/protocols.md ("Two protocols, one switch") for where each default comes from.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from lowcap.data.datasets import facts
from lowcap.data.tasks import Draws, check_pair
from lowcap.errors import UserInputError
from lowcap.models.mlp import PAPER_CODE_WIDTHS

PAPER_WIDTHS = PAPER_CODE_WIDTHS
PAPER_LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
Pair = tuple[int, int]
# Integers are taken as written: no 4.0 → 4, no true → 1 (pydantic's strict mode).
PositiveInt = Annotated[int, Field(strict=True, ge=1)]
# numpy, scikit-learn and torch all accept seeds in [0, 2³²).
Seed = Annotated[int, Field(strict=True, ge=0, lt=2**32)]
C = TypeVar("C", bound="RunConfig")


def _takes_bool(annotation: Any) -> bool:
    """Whether a field's type is bool, or holds bools (list[bool], bool | None, …)."""
    return annotation is bool or any(_takes_bool(a) for a in get_args(annotation))


def _holds_bool(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return any(_holds_bool(v) for v in value)
    return isinstance(value, bool)


class ConfigSection(BaseModel):
    """The base of every config section (and of a study's own): unknown keys, NaN/inf and
    yes/no where a number belongs are errors, never silently read."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                declared = cls.model_fields.get(key)  # a field declared bool takes yes/no
                if not (declared and _takes_bool(declared.annotation)) and _holds_bool(value):
                    raise ValueError(f"{key}: {value!r} holds a yes/no value where a number or "
                                     "name belongs")
        return data


def parse_pair(value: Any) -> Pair:
    """[a, b] of two integer digits, or the string 'a-b'; nothing else (no 4.5, no true)."""
    text = f"{value!r} is not a digit pair like [4, 9] or '4-9'"
    if isinstance(value, str):
        parts = value.split("-")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(text)
        value = [int(p) for p in parts]
    if not isinstance(value, list | tuple) or len(value) != 2 \
            or not all(type(v) is int for v in value):
        raise ValueError(text + " (two integers)")
    try:
        return check_pair((value[0], value[1]))
    except UserInputError as exc:
        raise ValueError(str(exc)) from exc


def parse_pairs(values: Any) -> list[Pair]:
    """A list of digit pairs (see `parse_pair`)."""
    if not isinstance(values, list):
        raise ValueError(f"{values!r} is not a list of digit pairs like [[4, 9], [0, 1]]")
    return [parse_pair(v) for v in values]


# Learning rates live in the cohort's float32 tensors (float64 for a float64 protocol).
MAX_LR = 1e38


def _positive_lr(lr: float) -> float:
    if not 0 < lr <= MAX_LR:
        raise ValueError(f"learning rate {lr} must be > 0 and at most {MAX_LR:g} (float32's "
                         "range)")
    return lr


def known_dataset(name: str) -> str:
    """A dataset name lowcap knows (`lowcap.data.datasets.FACTS`)."""
    try:
        facts(name)
    except UserInputError as exc:
        raise ValueError(str(exc)) from exc
    return name


def positive_lrs(values: list[float]) -> list[float]:
    return [_positive_lr(lr) for lr in values]


class ProtocolConfig(ConfigSection):
    """Everything the two protocols disagree on (docs/protocols.md, "Two protocols, one switch")."""

    # Which protocol: its preset fills every field you do not write (`reference` or
    # `corrected`; a study deriving protocols of its own names them).
    name: str = Field(pattern=r"^[a-z_]+$")
    # Mini-batch size, or full for full-batch gradient descent.
    batch_size: PositiveInt | Literal["full"]
    # Initial weights: PyTorch's nn.Linear default, or N(0, init_std²) with zero biases.
    init: Literal["kaiming_uniform", "normal"]
    # Standard deviation of the normal initialisation.
    init_std: float = Field(0.1, gt=0)
    # Downsample the larger class of a pair to the size of the smaller one.
    balance: bool = Field(strict=True)
    # Seeds: one model per seed for every pair, width and learning rate.
    seeds: list[Seed] = Field(min_length=1)
    # Fraction of a pair's training images held out for validation.
    val_fraction: float = Field(0.2, gt=0, lt=1)
    # Which split the training-dynamics figures show (the paper's code: train).
    curves_split: Literal["val", "train"]
    # Whose random draws make the split and the initial weights: lowcap's own streams, or
    # exactly those of the paper's public code (its balancing, permutation and split, and its
    # global NumPy stream for N(0, init_std²) weights, replayed in its loop order).
    draws: Draws = "lowcap"
    # The float type the models train in: the paper's code trains in float64 (NumPy).
    dtype: Literal["float32", "float64"] = "float32"
    # The update budget: every epoch makes as many updates as one pass over the training split
    # at this batch size takes (unset: the protocol's own batch_size). With mini-batches,
    # `full` stops each epoch after one update, so `epochs` counts updates; with
    # batch_size: full, a number repeats the full-batch step, giving gradient descent the
    # updates of mini-batch SGD: an "update budget" separate from the optimiser.
    budget_batch_size: PositiveInt | Literal["full"] | None = None
    # Train on at most this many of each split's training images (a stratified draw by the
    # seed; validation and test stay whole). Unset: all of them.
    train_size: PositiveInt | None = None
    # Augment the training images: each image of each batch shifted by up to ±2 pixels and
    # turned by up to ±10°, drawn per (seed, epoch) (lowcap.training.augment).
    augment: bool = Field(False, strict=True)
    # The fraction of each split's training labels flipped (a draw per seed; validation and
    # test keep the true labels): label noise, as in model-wise double descent.
    label_noise: float = Field(0.0, ge=0, le=0.5)
    # Every model's optimiser, with torch's arithmetic: sgd, momentum (SGD with momentum, no
    # dampening) or adam (bias-corrected).
    optimiser: Literal["sgd", "momentum", "adam"] = "sgd"
    # The momentum of optimiser: momentum.
    momentum: float = Field(0.9, ge=0, lt=1)
    # Adam's decay rate of its first moment.
    adam_beta1: float = Field(0.9, ge=0, lt=1)
    # Adam's decay rate of its second moment.
    adam_beta2: float = Field(0.999, ge=0, lt=1)
    # L2 weight decay added to every gradient (torch's weight_decay), for every optimiser.
    weight_decay: float = Field(0.0, ge=0)
    # Hidden layers of every model, each of the model's width (1: the paper's d → h → 1).
    depth: int = Field(1, strict=True, ge=1, le=3)
    # The dataset whose class pairs the models learn: mnist, fashion_mnist, kmnist (from
    # data_dirs), digits (scikit-learn's 8×8), mnist1d (40 values) or mnist_pca (MNIST on its
    # first 32 principal components). Pairs name class indices.
    dataset: str = "mnist"
    # Train on worst-case inputs (Madry et al. 2018): every update on its batch moved by
    # pgd_steps projected gradient steps of pgd_step_size up the loss, within the pgd_norm
    # ball (linf or l2) of radius pgd_eps, pixels kept in [0, 1]. Unset: natural training.
    pgd_norm: Literal["linf", "l2"] | None = None
    # The ball's radius, in pixel intensity (linf) or over the whole image (l2).
    pgd_eps: float = Field(0.0, ge=0, le=28)
    # Steps of the inner maximisation, from the clean image.
    pgd_steps: int = Field(0, strict=True, ge=0, le=1000)
    # Each step's size, in the units of pgd_eps (Madry et al. on MNIST: 0.01 for ε 0.3).
    pgd_step_size: float = Field(0.0, ge=0, le=28)

    _dataset = field_validator("dataset")(known_dataset)

    @model_validator(mode="after")
    def _pgd_is_whole(self) -> ProtocolConfig:
        given = {"pgd_eps": self.pgd_eps, "pgd_steps": self.pgd_steps,
                 "pgd_step_size": self.pgd_step_size}
        if self.pgd_norm is None:
            stray = [name for name, value in given.items() if value]
            if stray:
                raise ValueError(f"{stray[0]} is set but pgd_norm is not; set pgd_norm: linf "
                                 "or l2 to train on PGD inputs, or remove it")
            return self
        missing = [name for name, value in given.items() if not value]
        if missing:
            raise ValueError(f"pgd_norm {self.pgd_norm}: {missing[0]} must be above 0 (e.g. "
                             "pgd_eps: 0.1, pgd_steps: 7, pgd_step_size: 0.025)")
        if not facts(self.dataset).is_image:
            raise ValueError(f"pgd_norm: dataset {self.dataset} holds signals, not images in "
                             "[0, 1]; remove pgd_norm or use an image dataset")
        return self

    @model_validator(mode="after")
    def _augment_needs_images(self) -> ProtocolConfig:
        if self.augment and not facts(self.dataset).is_image:
            raise ValueError(f"augment: dataset {self.dataset} holds signals, not square "
                             "images; set augment: false")
        return self

    @model_validator(mode="after")
    def _paper_code_draws_are_normal(self) -> ProtocolConfig:
        if self.draws == "paper_code" and self.init != "normal":
            raise ValueError("draws: paper_code draws the public code's N(0, init_std²) "
                             "weights; set init: normal, or draws: lowcap for lowcap's own "
                             "streams")
        if self.draws == "paper_code" and self.depth != 1:
            raise ValueError(f"depth {self.depth}: the public code's draws exist for one "
                             "hidden layer only; set depth: 1, or draws: lowcap")
        return self

    @property
    def batch(self) -> int | None:
        """Mini-batch size, or None for full-batch gradient descent."""
        return None if self.batch_size == "full" else int(self.batch_size)

    @property
    def budget(self) -> int | str | None:
        """The plan's `budget_batch_size`: 'own' where it is the protocol's own batch size,
        None for full batch, else a batch size."""
        budget = self.budget_batch_size
        if budget is None:
            return "own"
        value = None if budget == "full" else int(budget)
        return "own" if value == self.batch else value


PROTOCOL_PRESETS: dict[str, dict[str, Any]] = {
    "reference": {"batch_size": "full", "init": "normal", "init_std": 0.1, "balance": True,
                  "seeds": [0, 42, 78], "curves_split": "train", "draws": "paper_code",
                  "dtype": "float64"},
    "corrected": {"batch_size": 128, "init": "kaiming_uniform", "balance": False,
                  "seeds": [0, 1, 2], "curves_split": "val"},
}


class RunConfig(ConfigSection):
    """What every run shares: training settings and protocols. The studies' sections are
    added to it by the study registry (`lowcap.studies.registry.ExperimentConfig`)."""

    profile: str = "custom"  # names the default output folder, runs/<profile>
    # Hidden widths h of the 784 → h → 1 models the training studies use (a study may name its
    # own).
    widths: list[PositiveInt] = Field(default=list(PAPER_WIDTHS), min_length=1)
    # The main learning rate: the one the paper's studies train at.
    lr: float = 0.03
    # Epochs each model trains for (full-batch GD: one update per epoch).
    epochs: PositiveInt = 100
    # Hidden activation of every trained model; every analysis uses the same one.
    activation: Literal["relu", "tanh"] = "relu"
    # PyTorch's float32 matmul precision for the training updates. "highest": IEEE float32.
    # "medium": bf16 products, float32 sums, weights and outputs where the hardware has fast
    # bf16 (AMX / AVX512-BF16 CPUs); TF32 on GPUs. Evaluation and analyses are always float32.
    # Only float32 protocols are affected: a `dtype: float64` protocol trains in float64.
    matmul_precision: Literal["highest", "medium"] = "highest"
    # Epochs between training snapshots: how much a killed run recomputes.
    snapshot_every: PositiveInt = 10
    protocols: list[ProtocolConfig] = Field(min_length=1)
    # Folders holding the published gzip IDX files of the datasets lowcap cannot make itself
    # (fashion_mnist, kmnist), by dataset name; their MD5s are checked before a run writes.
    data_dirs: dict[Literal["fashion_mnist", "kmnist"], Path] = {}
    # Each protocol's preset values; the registry adds the studies' protocol fields' presets.
    protocol_presets: ClassVar[dict[str, dict[str, Any]]] = PROTOCOL_PRESETS

    _lr = field_validator("lr")(_positive_lr)

    @field_validator("profile")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value):
            raise ValueError(f"profile {value!r} must be a plain name (letters, digits, '-', "
                             "'_'; at most 64): it names the output folder runs/<profile>")
        return value

    @field_validator("protocols", mode="before")
    @classmethod
    def _presets(cls, value: Any) -> Any:
        """`{corrected: {}, reference: {seeds: [0]}}` → full protocol objects from presets."""
        if isinstance(value, dict):
            for name, overrides in value.items():
                if overrides is not None and not isinstance(overrides, dict):
                    raise ValueError(f"protocol {name!r}: {overrides!r} is not a mapping of "
                                     "overrides (write {} for the preset as it is)")
            value = [{"name": name, **(overrides or {})} for name, overrides in value.items()]
        if not isinstance(value, list):
            raise ValueError("protocols must map protocol names to overrides")
        resolved = []
        for item in value:
            name = item.get("name") if isinstance(item, dict) else None
            if name not in cls.protocol_presets:
                raise ValueError(f"unknown protocol {name!r}; use 'reference' or 'corrected'")
            resolved.append({"name": name, **cls.protocol_presets[name], **item})
        return resolved

    def protocol(self, name: str) -> ProtocolConfig:
        """The protocol called `name`."""
        return next(p for p in self.protocols if p.name == name)

    def to_yaml(self) -> str:
        """The fully resolved config as YAML (every default spelled out)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err["loc"]) or "config"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    if isinstance(err.get("input"), dict):  # a whole section: the message names the value
        return f"{where}: {msg}"
    return f"{where}: {msg} (got {err.get('input')!r})"


def parse_config(schema: type[C], data: Any, origin: str) -> C:
    """Validate a mapping against `schema`; raise UserInputError with a one-line reason
    naming the bad value."""
    if not isinstance(data, dict):
        raise UserInputError(f"{origin}: the config must be a YAML mapping")
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise UserInputError(f"{origin}: {_first_error(exc)}") from exc


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in a mapping is an error (plain
    YAML keeps the last one silently). Merge keys (`<<: *base`) work as in YAML: keys written
    beside them override the merged ones."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # flattened by the base class
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable: the base class reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"found the key {key!r} twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# A config is a page of settings: these bounds refuse a file that is something else (a data
# dump, a YAML alias bomb that expands to billions of values) before it costs time or memory.
MAX_CONFIG_BYTES = 1_000_000
MAX_CONFIG_VALUES = 100_000
MAX_CONFIG_DEPTH = 32


def _check_shape(data: Any, origin: str) -> None:
    """UserInputError if `data` nests deeper than MAX_CONFIG_DEPTH or holds more than
    MAX_CONFIG_VALUES values once its aliases are expanded (counted up to the limit only)."""
    count = 0
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_CONFIG_VALUES:
            raise UserInputError(f"{origin}: holds more than {MAX_CONFIG_VALUES:,} values once "
                                 "its YAML aliases are expanded; a config is a page of settings")
        if depth > MAX_CONFIG_DEPTH:
            raise UserInputError(f"{origin}: nested more than {MAX_CONFIG_DEPTH} levels deep; "
                                 "a config is a page of settings")
        children = (value.values() if isinstance(value, dict)
                    else value if isinstance(value, list) else ())
        stack.extend((child, depth + 1) for child in children)


def _config_text(path: Path) -> str:
    """A config file's text: a regular file (not a FIFO or device, whose reading could block
    for ever) of at most MAX_CONFIG_BYTES."""
    try:
        info = path.stat()
    except OSError as exc:
        raise UserInputError(f"{path}: cannot read config ({exc.strerror})") from exc
    except ValueError as exc:  # e.g. a NUL in the path
        raise UserInputError(f"{path!s}: cannot read config ({exc})") from exc
    if not stat.S_ISREG(info.st_mode):
        raise UserInputError(f"{path}: not a regular file (a folder, pipe or device); name a "
                             "YAML file")
    if info.st_size > MAX_CONFIG_BYTES:
        raise UserInputError(f"{path}: {info.st_size:,} bytes; a config is at most "
                             f"{MAX_CONFIG_BYTES:,} bytes of settings")
    return path.read_text(encoding="utf-8")


def load_config(schema: type[C], path: Path) -> C:
    """Read a YAML config file and validate it against `schema`."""
    try:
        text = _config_text(path)
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except RecursionError as exc:  # PyYAML's parser recurses once per level
        raise UserInputError(f"{path}: nested too deeply to be a config") from exc
    except OSError as exc:
        raise UserInputError(f"{path}: cannot read config ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise UserInputError(f"{path}: not UTF-8 text (byte {exc.start}); save the config "
                             "as UTF-8") from exc
    except ValueError as exc:  # e.g. a NUL in the path
        raise UserInputError(f"{path!s}: cannot read config ({exc})") from exc
    except yaml.YAMLError as exc:
        raise UserInputError(f"{path}: not valid YAML ({exc})".replace("\n", " ")) from exc
    _check_shape(data, str(path))
    return parse_config(schema, data, str(path))


def configs_dir() -> Path:
    """The folder of the shipped configs (in the installed package, or the repository's)."""
    here = Path(__file__).resolve()
    for folder in (here.parents[1] / "configs", here.parents[3] / "configs"):
        if folder.is_dir():
            return folder
    raise UserInputError("no configs/ folder found beside lowcap (a broken install?)")


def profile_path(profile: str) -> Path:
    """The YAML file of a named profile (paper, quick, smoke)."""
    candidate = configs_dir() / f"{profile}.yaml"
    if not candidate.exists():
        raise UserInputError(f"profile {profile!r}: no configs/{profile}.yaml found")
    return candidate
