"""Typed, validated experiment configuration (YAML → pydantic models).

Every default is spelled out when the resolved config is written to a run's `config.yaml`.
Protocol presets (`reference`, `corrected`) fill whatever a YAML file leaves unsaid; see
`shared/docs/protocol.md` for where each default comes from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, field_validator

from lowcap.data.tasks import PAPER_PAIRS, check_pair
from lowcap.errors import UserInputError

PAPER_WIDTHS = (2, 4, 6, 8, 10, 12, 16, 24, 32, 48, 64)
PAPER_LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
Pair = tuple[int, int]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_pair(value: Any) -> Pair:
    if isinstance(value, str) and "-" in value:
        value = value.split("-", 1)
    try:
        a, b = (int(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{value!r} is not a digit pair like [4, 9] or '4-9'") from exc
    try:
        return check_pair((a, b))
    except UserInputError as exc:
        raise ValueError(str(exc)) from exc


def _positive_lrs(values: list[float]) -> list[float]:
    for lr in values:
        if not lr > 0:
            raise ValueError(f"learning rate {lr} must be > 0")
    return values


class ProtocolConfig(_Strict):
    """Everything the two protocols disagree on (protocol.md, 'Two protocols, one switch')."""

    name: Literal["reference", "corrected"]
    batch_size: PositiveInt | Literal["full"]
    init: Literal["kaiming_uniform", "normal"]
    init_std: float = Field(0.1, gt=0)
    balance: bool
    seeds: list[int] = Field(min_length=1)
    val_fraction: float = Field(0.2, gt=0, lt=1)
    curves_split: Literal["val", "train"]
    # "both" also runs the reference code's fraction/100 pruning, labelled layerwise_refscale.
    pruning_fraction_scale: Literal["intended", "both"] = "intended"

    @property
    def batch(self) -> int | None:
        """Mini-batch size, or None for full-batch gradient descent."""
        return None if self.batch_size == "full" else int(self.batch_size)


PROTOCOL_PRESETS: dict[str, dict[str, Any]] = {
    "reference": {"batch_size": "full", "init": "normal", "init_std": 0.1, "balance": True,
                  "seeds": [0, 42, 78], "curves_split": "train", "pruning_fraction_scale": "both"},
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

    @field_validator("pairs", mode="before")
    @classmethod
    def _pairs(cls, values: list[Any]) -> list[Pair]:
        return [_check_pair(v) for v in values]


class SweepConfig(_Strict):
    """`lowcap sweep`: an arbitrary grid of pairs × widths × learning rates × seeds."""

    pairs: list[Pair] = Field(min_length=1)
    widths: list[PositiveInt] = Field(min_length=1)
    learning_rates: list[float] = Field(min_length=1)

    _lrs = field_validator("learning_rates")(_positive_lrs)

    @field_validator("pairs", mode="before")
    @classmethod
    def _pairs(cls, values: list[Any]) -> list[Pair]:
        return [_check_pair(v) for v in values]


class PruningConfig(_Strict):
    """§4.3: one-shot pruning levels (fractions of weights removed) and methods."""

    levels: list[float] = Field(
        default=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99], min_length=1)
    methods: list[Literal["layerwise", "global", "random"]] = ["layerwise", "global", "random"]

    @field_validator("levels")
    @classmethod
    def _levels(cls, values: list[float]) -> list[float]:
        for level in values:
            if not 0 < level < 1:
                raise ValueError(f"sparsity {level} must be in (0, 1)")
        return values


class DeadNeuronsConfig(_Strict):
    """§4.4: dead-unit counts before and after pruning at `level` (Table 1 models listed)."""

    models: list[tuple[Pair, PositiveInt]] = [((0, 1), 12), ((3, 8), 16), ((4, 9), 24)]
    level: float = Field(0.95, gt=0, lt=1)

    @field_validator("models", mode="before")
    @classmethod
    def _models(cls, values: list[Any]) -> list[tuple[Pair, int]]:
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
    max_points: PositiveInt = 1000
    seed: int = 0

    _pair = field_validator("pair", mode="before")(_check_pair)


class RobustnessConfig(_Strict):
    """§4.6: Gaussian noise, occlusion and MNIST-C-style corruptions of the test images."""

    pair: Pair = (4, 9)
    widths: list[PositiveInt] = Field(default=[24, 48, 64], min_length=1)
    sigmas: list[float] = Field(default=[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0],
                                min_length=1)
    occlusion_size: int = Field(7, ge=1, le=28)
    mnist_c: list[Literal["shot_noise", "impulse_noise", "gaussian_blur", "shift", "rotation",
                          "brightness", "stripe"]] = [
        "shot_noise", "impulse_noise", "gaussian_blur", "shift", "rotation", "brightness",
        "stripe"]
    severities: list[Annotated[int, Field(ge=1, le=5)]] = [1, 2, 3, 4, 5]
    seed: int = 0

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
    top_k: PositiveInt = 50
    seed: int = 0

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
    ellipses: PositiveInt = 5
    trajectory_points: int = Field(2048, ge=16)
    bootstrap: PositiveInt = 1000
    seed: int = 0

    @field_validator("pairs", mode="before")
    @classmethod
    def _pairs(cls, values: list[Any]) -> list[Pair]:
        return [_check_pair(v) for v in values]


class NarrowConfig(_Strict):
    """Companion paper B (Zhang et al. 2021): projected gradient methods on narrow networks."""

    datasets: list[Literal["synthetic", "mnist"]] = ["synthetic", "mnist"]
    samples: PositiveInt = 1000
    synthetic_dim: PositiveInt = 50
    multipliers: list[float] = Field(default=[0.5, 1.0, 2.0, 4.0], min_length=1)
    methods: list[Literal["projected_gd", "projected_sgd", "projected_adam", "sgd", "adam"]] = [
        "projected_gd", "projected_sgd", "projected_adam", "sgd", "adam"]
    # Radii are multiples of ‖W0‖_F; every method gets its best (radius, lr) by final loss.
    radii: list[Annotated[float, Field(gt=0)]] = [0.5, 2.0, 8.0]
    seeds: list[int] = Field(default=[0, 1, 2], min_length=1)
    steps: PositiveInt = 400
    lrs: list[Annotated[float, Field(gt=0)]] = [10.0, 100.0]
    adam_lrs: list[Annotated[float, Field(gt=0)]] = [0.01, 0.1]
    batch_size: PositiveInt = 100
    activation: Literal["tanh", "softplus", "gelu"] = "tanh"

    @field_validator("multipliers")
    @classmethod
    def _multipliers(cls, values: list[float]) -> list[float]:
        for value in values:
            if not value > 0:
                raise ValueError(f"width multiplier {value} must be > 0")
        return values


class ExperimentConfig(_Strict):
    """A whole experiment: shared training settings, protocols, and the phases to run."""

    profile: str = "custom"
    widths: list[PositiveInt] = Field(default=list(PAPER_WIDTHS), min_length=1)
    lr: float = Field(0.03, gt=0)
    epochs: PositiveInt = 100
    activation: Literal["relu", "tanh"] = "relu"
    # PyTorch's float32 matmul precision for the training updates. "highest": IEEE float32.
    # "medium": bf16 products, float32 sums, weights and outputs where the hardware has fast
    # bf16 (AMX / AVX512-BF16 CPUs); TF32 on GPUs. Evaluation and analyses are always float32.
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

    @field_validator("protocols", mode="before")
    @classmethod
    def _presets(cls, value: Any) -> Any:
        """`{corrected: {}, reference: {seeds: [0]}}` → full protocol objects from presets."""
        if isinstance(value, dict):
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
    return f"{where}: {msg} (got {err.get('input')!r})"


def parse_config(data: Any, origin: str) -> ExperimentConfig:
    """Validate a mapping; raise UserInputError with a one-line reason naming the bad value."""
    if not isinstance(data, dict):
        raise UserInputError(f"{origin}: the config must be a YAML mapping")
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise UserInputError(f"{origin}: {_first_error(exc)}") from exc


def load_config(path: Path) -> ExperimentConfig:
    """Read and validate a YAML config file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserInputError(f"{path}: cannot read config ({exc.strerror})") from exc
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
