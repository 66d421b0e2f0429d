"""Typed, validated experiment configuration (YAML → pydantic models).

Every default is spelled out when the resolved config is written to a run's `config.yaml`.
Protocol presets (`reference`, `corrected`) fill whatever a YAML file leaves unsaid; see
the README ("Two protocols, one switch") for where each default comes from.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from lowcap.data.tasks import PAPER_PAIRS, Draws, check_pair
from lowcap.errors import UserInputError
from lowcap.models.mlp import PAPER_CODE_WIDTHS

PAPER_WIDTHS = PAPER_CODE_WIDTHS
PAPER_LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
Pair = tuple[int, int]
# Integers are taken as written: no 4.0 → 4, no true → 1 (pydantic's strict mode).
PositiveInt = Annotated[int, Field(strict=True, ge=1)]
# numpy, scikit-learn and torch all accept seeds in [0, 2³²).
Seed = Annotated[int, Field(strict=True, ge=0, lt=2**32)]
BOOLEAN_FIELDS = {"balance"}


def _holds_bool(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return any(_holds_bool(v) for v in value)
    return isinstance(value, bool)


class _Strict(BaseModel):
    """Every config section: unknown keys, NaN/inf and yes/no where a number belongs are
    errors, never silently read."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if key not in BOOLEAN_FIELDS and _holds_bool(value):
                    raise ValueError(f"{key}: {value!r} holds a yes/no value where a number or "
                                     "name belongs")
        return data


def _check_pair(value: Any) -> Pair:
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


def _check_pairs(values: Any) -> list[Pair]:
    """A list of digit pairs (see `_check_pair`)."""
    if not isinstance(values, list):
        raise ValueError(f"{values!r} is not a list of digit pairs like [[4, 9], [0, 1]]")
    return [_check_pair(v) for v in values]


# Learning rates live in the cohort's float32 tensors (float64 for a float64 protocol).
MAX_LR = 1e38


def _positive_lr(lr: float) -> float:
    if not 0 < lr <= MAX_LR:
        raise ValueError(f"learning rate {lr} must be > 0 and at most {MAX_LR:g} (float32's "
                         "range)")
    return lr


def _positive_lrs(values: list[float]) -> list[float]:
    return [_positive_lr(lr) for lr in values]


class ProtocolConfig(_Strict):
    """Everything the two protocols disagree on (protocol.md, 'Two protocols, one switch')."""

    name: Literal["reference", "corrected"]
    batch_size: PositiveInt | Literal["full"]
    init: Literal["kaiming_uniform", "normal"]
    init_std: float = Field(0.1, gt=0)
    balance: bool = Field(strict=True)
    seeds: list[Seed] = Field(min_length=1)
    val_fraction: float = Field(0.2, gt=0, lt=1)
    curves_split: Literal["val", "train"]
    # "both" also runs the reference code's fraction/100 pruning, labelled layerwise_refscale.
    pruning_fraction_scale: Literal["intended", "both"] = "intended"
    # Whose random draws make the split and the initial weights: lowcap's own streams, or
    # exactly those of the paper's public code (its balancing, permutation and split, and its
    # global NumPy stream for N(0, init_std²) weights, replayed in its loop order).
    draws: Draws = "lowcap"
    # The float type the models train in: the paper's code trains in float64 (NumPy).
    dtype: Literal["float32", "float64"] = "float32"

    @model_validator(mode="after")
    def _paper_code_draws_are_normal(self) -> ProtocolConfig:
        if self.draws == "paper_code" and self.init != "normal":
            raise ValueError("draws: paper_code draws the public code's N(0, init_std²) "
                             "weights; set init: normal, or draws: lowcap for lowcap's own "
                             "streams")
        return self

    @property
    def batch(self) -> int | None:
        """Mini-batch size, or None for full-batch gradient descent."""
        return None if self.batch_size == "full" else int(self.batch_size)


PROTOCOL_PRESETS: dict[str, dict[str, Any]] = {
    "reference": {"batch_size": "full", "init": "normal", "init_std": 0.1, "balance": True,
                  "seeds": [0, 42, 78], "curves_split": "train", "pruning_fraction_scale": "both",
                  "draws": "paper_code", "dtype": "float64"},
    "corrected": {"batch_size": 128, "init": "kaiming_uniform", "balance": False,
                  "seeds": [0, 1, 2], "curves_split": "val"},
}


class LRGridConfig(_Strict):
    """§4.1: one pair, every width × learning rate × seed."""

    pair: Pair = (4, 9)
    learning_rates: list[float] = Field(default=list(PAPER_LRS), min_length=1)

    _pair = field_validator("pair", mode="before")(_check_pair)
    _lrs = field_validator("learning_rates")(_positive_lrs)


class CapacityConfig(_Strict):
    """§4.2: pairs × widths × seeds at the main learning rate, and the min-capacity rule."""

    pairs: list[Pair] = Field(default=list(PAPER_PAIRS), min_length=1)
    min_f1: float = Field(0.90, gt=0, lt=1)
    max_std: float = Field(0.02, gt=0)

    _pairs = field_validator("pairs", mode="before")(_check_pairs)


class SweepConfig(_Strict):
    """`lowcap sweep`: an arbitrary grid of pairs × widths × learning rates × seeds."""

    pairs: list[Pair] = Field(min_length=1)
    widths: list[PositiveInt] = Field(min_length=1)
    learning_rates: list[float] = Field(min_length=1)

    _lrs = field_validator("learning_rates")(_positive_lrs)

    _pairs = field_validator("pairs", mode="before")(_check_pairs)


class PruningConfig(_Strict):
    """§4.3: one-shot pruning levels (fractions of weights removed) and methods."""

    levels: list[float] = Field(
        default=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99], min_length=1)
    methods: list[Literal["layerwise", "global", "random"]] = Field(
        default=["layerwise", "global", "random"], min_length=1)
    # How many weights s·n a layerwise level removes: "floor" = int(s·n), the paper's appendix
    # (method `layerwise`); "nearest" = round(s·n), torch's l1_unstructured (reported as
    # `layerwise_nearest`). The two differ by one weight where s·n has a fraction ≥ ½.
    rounding: list[Literal["floor", "nearest"]] = Field(default=["floor", "nearest"],
                                                        min_length=1)

    @field_validator("levels")
    @classmethod
    def _levels(cls, values: list[float]) -> list[float]:
        for level in values:
            if not 0 < level < 1:
                raise ValueError(f"sparsity {level} must be in (0, 1)")
        return values


class DeadNeuronsConfig(_Strict):
    """§4.4: dead-unit counts before and after pruning at `level` (Table 1 models listed)."""

    models: list[tuple[Pair, PositiveInt]] = Field(
        default=[((0, 1), 12), ((3, 8), 16), ((4, 9), 24)], min_length=1)
    level: float = Field(0.95, gt=0, lt=1)

    @field_validator("models", mode="before")
    @classmethod
    def _models(cls, values: Any) -> list[tuple[Pair, int]]:
        if not isinstance(values, list):
            raise ValueError(f"{values!r} is not a list of [digit, digit, width]")
        out = []
        for value in values:
            try:  # [a, b, h] as written in YAML, or [[a, b], h] as dumped
                pair, h = (value[:2], value[2]) if len(value) == 3 else value
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{value!r} is not [digit, digit, width]") from exc
            out.append((_check_pair(pair), h))
        return out


class TSNEConfig(_Strict):
    """§4.5: t-SNE of one model's hidden activations before and after pruning."""

    pair: Pair = (4, 9)
    hidden: PositiveInt = 24
    level: float = Field(0.95, gt=0, lt=1)
    perplexity: float = Field(30.0, gt=1)
    max_points: int = Field(1000, strict=True, ge=50)  # 5-fold 10-NN needs some points
    seed: Seed = 0

    _pair = field_validator("pair", mode="before")(_check_pair)


class RobustnessConfig(_Strict):
    """§4.6: Gaussian noise, occlusion and MNIST-C-style corruptions of the test images."""

    pair: Pair = (4, 9)
    widths: list[PositiveInt] = Field(default=[24, 48, 64], min_length=1)
    sigmas: list[float] = Field(default=[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0],
                                min_length=1)
    occlusion_size: int = Field(7, strict=True, ge=1, le=28)
    mnist_c: list[Literal["shot_noise", "impulse_noise", "gaussian_blur", "shift", "rotation",
                          "brightness", "stripe"]] = [
        "shot_noise", "impulse_noise", "gaussian_blur", "shift", "rotation", "brightness",
        "stripe"]
    severities: list[Annotated[int, Field(strict=True, ge=1, le=5)]] = [1, 2, 3, 4, 5]
    seed: Seed = 0

    _pair = field_validator("pair", mode="before")(_check_pair)

    @field_validator("sigmas")
    @classmethod
    def _sigmas(cls, values: list[float]) -> list[float]:
        for sigma in values:
            if sigma < 0:
                raise ValueError(f"noise σ {sigma} must be ≥ 0")
        return values


class SaliencyConfig(_Strict):
    """§4.7: saliency maps of one model, dense vs pruned, and their agreement."""

    pair: Pair = (4, 9)
    hidden: PositiveInt = 24
    epsilon: float = Field(0.01, gt=0)
    level: float = Field(0.95, gt=0, lt=1)
    max_images: PositiveInt = 500
    top_k: int = Field(50, strict=True, ge=1, le=784)  # of the 784 pixels
    seed: Seed = 0

    _pair = field_validator("pair", mode="before")(_check_pair)


class SensitivityConfig(_Strict):
    """Companion paper A (Novak et al. 2018): Jacobian norm vs generalization over a cohort.

    The population is the capacity sweep of `protocol` plus factor variants trained on `pairs` ×
    `widths`: random training labels, full-batch GD, tanh instead of ReLU.
    """

    protocol: Literal["reference", "corrected"] = "corrected"
    pairs: list[Pair] = Field(default=[(4, 9)], min_length=1)
    widths: list[PositiveInt] = Field(default=[4, 8, 16, 32, 64], min_length=1)
    variants: list[Literal["random_labels", "full_batch", "tanh"]] = [
        "random_labels", "full_batch", "tanh"]
    points: PositiveInt = 500
    ellipses: int = Field(5, strict=True, ge=1, le=1000)
    trajectory_points: int = Field(2048, strict=True, ge=16, le=65536)
    bootstrap: int = Field(1000, strict=True, ge=1, le=100_000)
    seed: Seed = 0

    _pairs = field_validator("pairs", mode="before")(_check_pairs)


class NarrowConfig(_Strict):
    """Companion paper B (Zhang et al. 2021): projected gradient methods on narrow networks."""

    datasets: list[Literal["synthetic", "mnist"]] = Field(default=["synthetic", "mnist"],
                                                          min_length=1)
    # The σ_min study eigendecomposes an n × n Gram matrix: n is bounded to keep it in memory.
    samples: int = Field(1000, strict=True, ge=1, le=10_000)
    synthetic_dim: int = Field(50, strict=True, ge=1, le=4096)
    multipliers: list[float] = Field(default=[0.5, 1.0, 2.0, 4.0], min_length=1)
    methods: list[Literal["projected_gd", "projected_sgd", "projected_adam", "sgd", "adam"]] = (
        Field(default=["projected_gd", "projected_sgd", "projected_adam", "sgd", "adam"],
              min_length=1))
    # Radii are multiples of ‖W0‖_F; every method gets its best (radius, lr) by final loss.
    radii: list[Annotated[float, Field(gt=0)]] = Field(default=[0.5, 2.0, 8.0], min_length=1)
    seeds: list[Seed] = Field(default=[0, 1, 2], min_length=1)
    steps: PositiveInt = 400
    lrs: list[Annotated[float, Field(gt=0)]] = Field(default=[10.0, 100.0], min_length=1)
    adam_lrs: list[Annotated[float, Field(gt=0)]] = Field(default=[0.01, 0.1], min_length=1)
    batch_size: PositiveInt = 100
    activation: Literal["tanh", "softplus", "gelu"] = "tanh"

    @field_validator("multipliers")
    @classmethod
    def _multipliers(cls, values: list[float]) -> list[float]:
        for value in values:
            if not 0 < value <= 64:
                raise ValueError(f"width multiplier {value} must be in (0, 64]")
        return values


class ExperimentConfig(_Strict):
    """A whole experiment: shared training settings, protocols, and the phases to run."""

    profile: str = "custom"  # names the default output folder, runs/<profile>
    widths: list[PositiveInt] = Field(default=list(PAPER_WIDTHS), min_length=1)
    lr: float = 0.03
    epochs: PositiveInt = 100
    activation: Literal["relu", "tanh"] = "relu"
    # PyTorch's float32 matmul precision for the training updates. "highest": IEEE float32.
    # "medium": bf16 products, float32 sums, weights and outputs where the hardware has fast
    # bf16 (AMX / AVX512-BF16 CPUs); TF32 on GPUs. Evaluation and analyses are always float32.
    # Only float32 protocols are affected: a `dtype: float64` protocol trains in float64.
    matmul_precision: Literal["highest", "medium"] = "highest"
    snapshot_every: PositiveInt = 10
    protocols: list[ProtocolConfig] = Field(min_length=1)
    lr_grid: LRGridConfig | None = None
    capacity: CapacityConfig | None = None
    pruning: PruningConfig | None = None
    dead_neurons: DeadNeuronsConfig | None = None
    tsne: TSNEConfig | None = None
    robustness: RobustnessConfig | None = None
    saliency: SaliencyConfig | None = None
    sensitivity: SensitivityConfig | None = None
    narrow: NarrowConfig | None = None
    sweep: SweepConfig | None = None

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
            if name not in PROTOCOL_PRESETS:
                raise ValueError(f"unknown protocol {name!r}; use 'reference' or 'corrected'")
            resolved.append({"name": name, **PROTOCOL_PRESETS[name], **item})
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


def parse_config(data: Any, origin: str) -> ExperimentConfig:
    """Validate a mapping; raise UserInputError with a one-line reason naming the bad value."""
    if not isinstance(data, dict):
        raise UserInputError(f"{origin}: the config must be a YAML mapping")
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise UserInputError(f"{origin}: {_first_error(exc)}") from exc


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in a mapping is an error (plain
    YAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
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


def load_config(path: Path) -> ExperimentConfig:
    """Read and validate a YAML config file."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except OSError as exc:
        raise UserInputError(f"{path}: cannot read config ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise UserInputError(f"{path}: not UTF-8 text (byte {exc.start}); save the config "
                             "as UTF-8") from exc
    except ValueError as exc:  # e.g. a NUL in the path
        raise UserInputError(f"{path!s}: cannot read config ({exc})") from exc
    except yaml.YAMLError as exc:
        raise UserInputError(f"{path}: not valid YAML ({exc})".replace("\n", " ")) from exc
    return parse_config(data, str(path))


def profile_path(profile: str) -> Path:
    """The YAML file of a named profile (paper, quick, smoke)."""
    here = Path(__file__).resolve()
    for folder in (here.parents[1] / "configs", here.parents[3] / "configs"):
        candidate = folder / f"{profile}.yaml"
        if candidate.exists():
            return candidate
    raise UserInputError(f"profile {profile!r}: no configs/{profile}.yaml found")
