"""Typed run configuration, validated when built: data, model, optimization, training, run.

Only the CLI reads config files and flags; the library takes these objects. A config file is
TOML with one table per section (as ``config.toml`` in a run folder), or flat keys named like
the command-line flags (``hidden = [128, 64]``, ``lr = 0.001``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(Section):
    name: str = Field("digits", description="a built-in data set or a file path")
    target: str | None = Field(None, description="target column of a file")
    features: list[str] | None = Field(None, description="feature columns (default: all others)")
    task: Literal["auto", "classification", "regression"] = "auto"
    val_fraction: float | None = Field(
        None, ge=0, lt=1, description="default 0.15, or the data set's customary validation size"
    )
    test_fraction: float | None = Field(
        None, ge=0, lt=1, description="default 0.15; unused with an official test split or --test"
    )
    val: str | None = Field(None, description="a separate validation file")
    test: str | None = Field(None, description="a separate test file")
    categorical: list[str] | None = Field(
        None, description="numeric columns to one-hot encode too (text columns always are)"
    )
    impute: Literal["mean", "median", "most_frequent"] | None = Field(
        None, description="fill missing values (default: refuse them)"
    )
    unknown_category: Literal["error", "ignore"] = Field(
        "error", description="a category unseen in training: an error, or all-zero indicators"
    )
    scale_features: bool = Field(True, description="standardise numeric features")
    scale_target: bool = Field(False, description="standardise regression targets for training")
    groups: dict[str, list[str]] | None = Field(
        None, description="named input groups of columns, passed to the model by keyword"
    )
    stream: bool | None = Field(
        None, description="stream a memory-mapped NPY file (default: when it exceeds memory)"
    )
    options: dict[str, int | float | str] = Field(
        default_factory=dict, description="options of a built-in data set, e.g. moons noise"
    )


class ModelConfig(Section):
    architecture: Literal["mlp", "wide_deep"] = Field(
        "mlp", description="wide_deep: Wide & Deep, fed the input groups wide and deep"
    )
    hidden: list[int] = Field(default_factory=lambda: [256, 128])
    activation: str = "relu"
    dropout: float = Field(0.0, ge=0, lt=1)
    batch_norm: bool = False
    aux_weight: float = Field(
        0.0, ge=0, lt=1, description="wide_deep: loss weight of an auxiliary deep-only output"
    )

    @field_validator("hidden")
    @classmethod
    def _positive_widths(cls, widths: list[int]) -> list[int]:
        if any(w < 1 for w in widths):
            raise ValueError(f"every hidden width must be positive, got {widths}")
        return widths

    @field_validator("activation")
    @classmethod
    def _known_activation(cls, name: str) -> str:
        from .models import ACTIVATIONS

        ACTIVATIONS.get(name)
        return name

    @model_validator(mode="after")
    def _wide_deep_settings(self) -> ModelConfig:
        if self.architecture == "wide_deep" and not self.hidden:
            raise ValueError("wide_deep needs at least one hidden layer, e.g. hidden = [50, 40]")
        if self.aux_weight and self.architecture != "wide_deep":
            raise ValueError("aux_weight is for architecture = 'wide_deep'")
        return self


class OptimConfig(Section):
    loss: str | None = Field(None, description="default: cross_entropy or mse by task")
    optimizer: str = "adam"
    lr: float | None = Field(None, gt=0, description="default: the optimizer's own")
    momentum: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    label_smoothing: float = Field(0.1, ge=0, lt=1, description="cross_entropy only")
    class_weights: Literal["balanced"] | list[float] | None = None
    clip_grad_norm: float | None = Field(None, gt=0, description="largest gradient norm")
    scheduler: str | None = Field(None, description="step, cosine, onecycle or plateau")
    step_size: int = Field(10, ge=1, description="step: epochs between decays")
    gamma: float = Field(0.1, gt=0, le=1, description="step, plateau: factor per decay")
    max_lr: float | None = Field(None, gt=0, description="onecycle: peak (default: lr)")
    min_lr: float = Field(0.0, ge=0, description="cosine, plateau: lowest learning rate")
    scheduler_patience: int = Field(10, ge=0, description="plateau: epochs without improvement")

    @field_validator("scheduler")
    @classmethod
    def _known_scheduler(cls, name: str | None) -> str | None:
        from .schedulers import SCHEDULERS

        if name is not None:
            SCHEDULERS.get(name)
        return name

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, name: str | None) -> str | None:
        from .losses import LOSSES

        if name is not None:
            LOSSES.get(name)
        return name

    @field_validator("optimizer")
    @classmethod
    def _known_optimizer(cls, name: str) -> str:
        from .optim import OPTIMIZERS

        OPTIMIZERS.get(name)
        return name


class TrainConfig(Section):
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(32, ge=1)
    seed: int = 0
    device: str = "auto"
    metrics: list[str] | None = Field(None, description="default: by task")
    step: Literal["auto", "fused", "autograd"] = "auto"
    checkpoint_every: int | None = Field(None, ge=1, description="keep epoch-NNNN.pt every N")
    keep_last: int | None = Field(None, ge=1, description="keep the newest K epoch-NNNN.pt")
    monitor: str | None = Field(None, description="for best.pt, early stopping, plateau")
    monitor_mode: Literal["auto", "min", "max"] = "auto"
    early_stopping: int | None = Field(None, ge=1, description="patience in epochs")
    min_delta: float = Field(0.0, ge=0, description="early stopping: least improvement")
    restore_best: bool = Field(True, description="early stopping: end with the best weights")
    deterministic: bool = False
    skip_nonfinite: bool = Field(False, description="skip batches with a NaN/inf loss")
    precision: Literal["fp32", "bf16"] = Field(
        "fp32", description="bf16: autocast where faster (else a warning and fp32)"
    )
    compile: bool = Field(False, description="train through torch.compile")
    threads: int | None = Field(None, ge=1, description="CPU threads (default: chosen)")

    @model_validator(mode="after")
    def _keep_last_needs_every(self) -> TrainConfig:
        if self.keep_last is not None and self.checkpoint_every is None:
            raise ValueError("keep_last prunes epoch-NNNN.pt files; set checkpoint_every too")
        return self

    num_workers: int = Field(0, ge=0, description="DataLoader worker processes when streaming")
    drop_last: bool = Field(False, description="drop a last, smaller training batch")


class RunConfig(Section):
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    out: str | None = Field(None, description="the run folder (default: runs/<data name>)")

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.model_dump(exclude_none=True))


# Flat keys (as flags and in flat config files) and the section each belongs to.
FLAT_KEYS: dict[str, tuple[str, str]] = {
    "data": ("data", "name"),
    **{k: ("data", k) for k in DataConfig.model_fields if k != "name"},
    **{k: ("model", k) for k in ModelConfig.model_fields},
    **{k: ("optim", k) for k in OptimConfig.model_fields},
    **{k: ("train", k) for k in TrainConfig.model_fields},
    "normalize": ("data", "scale_features"),  # the CLI's --normalize/--no-normalize
}
SECTIONS = ("data", "model", "optim", "train")


def build_config(values: dict[str, Any]) -> RunConfig:
    """A validated ``RunConfig`` from sectioned and/or flat keys; one line per bad field.

    >>> build_config({"hidden": [32], "train": {"epochs": 5}}).model.hidden
    [32]
    """
    nested: dict[str, Any] = {}
    for key, value in values.items():
        key = key.replace("-", "_")
        if key in SECTIONS and isinstance(value, dict):
            nested.setdefault(key, {}).update(value)
        elif key == "out":
            nested["out"] = value
        elif key in FLAT_KEYS:
            section, field = FLAT_KEYS[key]
            nested.setdefault(section, {})[field] = value
        else:
            raise ConfigError(f"unknown setting {key!r}; known: {', '.join(sorted(FLAT_KEYS))}")
    try:
        return RunConfig.model_validate(nested)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def merge(config: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """``config`` with flat or sectioned ``overrides`` applied, validated again."""
    base = config.model_dump(exclude_none=True)
    changes = build_config(overrides).model_dump(exclude_unset=True)
    for section, values in changes.items():
        if isinstance(values, dict) and section in base:
            base[section].update(values)
        else:
            base[section] = values
    return build_config(base)


def load_config(path: str | Path) -> RunConfig:
    """A config from a TOML file (a run folder's ``config.toml`` reruns that run)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"no config file at {path}; give a TOML file such as runs/NAME/config.toml"
        )
    try:
        values = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}; fix the file") from None
    return build_config(values)


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    return "bad setting " + "; ".join(problems)
