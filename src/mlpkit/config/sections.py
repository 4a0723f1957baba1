"""Every setting of a run, declared once: name, type, default, help text and validation.

The command-line flags (and their ``--help``, grouped by section: ``mlpkit.cli.flags``), the
TOML keys and the keywords of ``mlpkit.fit`` derive from these declarations, through the list
in ``mlpkit.config.settings``; so will tuning's search spaces and the estimator's parameters.
Adding a setting is one ``setting(...)`` line here plus its use.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)


def setting(default: Any, help: str, *, flag: str | None = None, cli: bool = True, **checks: Any):
    """Declare one setting: its default, its help text and its checks (``ge``, ``gt``...).

    ``flag`` names the command-line flag where it is not the setting's own name (``--data`` for
    ``data.name``); ``cli=False`` keeps a setting out of the flags (TOML and Python only).
    """
    extra: dict[str, Any] = {"cli": cli}
    if flag is not None:
        extra["flag"] = flag
    if isinstance(default, (list, dict)):
        copy = type(default)
        return Field(
            default_factory=lambda: copy(default),
            description=help,
            json_schema_extra=extra,
            **checks,
        )
    return Field(default, description=help, json_schema_extra=extra, **checks)


class Section(BaseModel):
    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, arbitrary_types_allowed=True
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic reads true as 1: ``epochs = true`` would train one epoch without a word.
        annotation = cls.model_fields[str(info.field_name)].annotation
        kinds = {annotation, *typing.get_args(annotation)}
        if isinstance(value, bool) and bool not in kinds and kinds & {int, float}:
            raise ValueError(f"expected a number, got {str(value).lower()}")
        return value


class DataConfig(Section):
    """What to train on and how it is prepared (``[data]``)."""

    name: str = setting("digits", "a built-in data set name or a file", flag="data")
    target: str | None = setting(None, "the target column of a file")
    features: list[str] | None = setting(None, "feature columns, e.g. age,income (default: all)")
    task: Literal["auto", "classification", "regression"] = setting(
        "auto", "auto, classification or regression"
    )
    val_fraction: float | None = setting(
        None, "validation share (default 0.15, or the data set's customary size)", ge=0, lt=1
    )
    test_fraction: float | None = setting(
        None, "test share (default 0.15; unused with an official test split or --test)", ge=0, lt=1
    )
    val: str | None = setting(None, "a separate validation file")
    test: str | None = setting(None, "a separate test file")
    categorical: list[str] | None = setting(
        None, "numeric columns to one-hot encode too (text columns always are)"
    )
    impute: Literal["median", "mean", "most_frequent", "none"] | None = setting(
        "median",
        "fill missing numbers (median, mean, most_frequent; plus a missing-value input) and "
        "categories (a category of their own), or none: refuse them",
    )
    unknown_category: Literal["error", "ignore"] = setting(
        "ignore",
        "a category unseen in training: ignore (the column's (other) level, or "
        "all-zero indicators), or error",
    )
    missing_indicators: bool = setting(
        True, "with imputation: an input per numeric column with gaps, 1 where it was missing"
    )
    max_categories: int = setting(
        256, "one-hot levels per categorical column; rarer categories share one (other)", ge=2
    )
    scale_features: bool = setting(True, "scale numeric features", flag="normalize")
    numeric_scaling: Literal["standard", "robust", "quantile"] = setting(
        "robust", "standard, robust (median/IQR + smooth clipping), or quantile (to normal)"
    )
    scale_target: bool = setting(True, "standardise a regression target for training")
    groups: dict[str, list[str]] | None = setting(
        None, "named input groups of columns, passed to the model by keyword (--wide, --deep)"
    )
    stream: bool | None = setting(
        None, "stream a memory-mapped NPY file (default: when it exceeds memory)"
    )
    options: dict[str, int | float | str] = setting(
        {}, "options of a built-in data set, e.g. moons noise", cli=False
    )


class ModelConfig(Section):
    """The network (``[model]``)."""

    architecture: Literal["mlp", "wide_deep", "realmlp"] = setting(
        "mlp",
        "mlp, wide_deep (Wide & Deep, fed the input groups wide and deep), or realmlp "
        "(RealMLP: numerical and categorical embeddings, NTK layers; the realmlp preset)",
    )
    hidden: list[int] = setting([256, 128], "hidden layer widths, e.g. 128,64 ('' for none)")
    activation: str = setting(
        "relu", "relu, tanh, gelu, selu, mish, ... (auto: the preset's choice for the task)"
    )
    dropout: float = setting(0.0, "dropout probability", ge=0, lt=1)
    batch_norm: bool = setting(False, "batch normalisation after each hidden layer")
    aux_weight: float = setting(
        0.0, "wide_deep: loss weight of an auxiliary deep-only output, e.g. 0.2", ge=0, lt=1
    )
    ensemble: int = setting(
        1,
        "members of an ensemble trained as one stacked model (each MLP from its own seed, on "
        "the mean of their losses; predictions average their probabilities or values)",
        ge=1,
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
        from ..models import ACTIVATIONS

        if name != "auto":  # the preset's choice, once the task is known
            ACTIVATIONS.get(name)
        return name

    @model_validator(mode="after")
    def _wide_deep_settings(self) -> ModelConfig:
        if self.architecture == "wide_deep" and not self.hidden:
            raise ValueError("wide_deep needs at least one hidden layer, e.g. hidden = [50, 40]")
        if self.aux_weight and self.architecture != "wide_deep":
            raise ValueError("aux_weight is for architecture = 'wide_deep'")
        if self.ensemble > 1 and (self.architecture != "mlp" or self.batch_norm):
            raise ValueError(
                f"an ensemble stacks plain MLPs, not architecture = '{self.architecture}'"
                f"{' with batch_norm' if self.batch_norm else ''}: use architecture = 'mlp' "
                "without batch_norm, or set ensemble = 1"
            )
        return self


class OptimConfig(Section):
    """The loss, the optimizer and the learning-rate schedule (``[optim]``)."""

    loss: str | None = setting(None, "cross_entropy, mse, l1, huber, nll, ... (default: by task)")
    optimizer: str | Callable = setting("adam", "sgd, adam, adamw, rmsprop, adagrad, adadelta")
    lr: float | None = setting(None, "learning rate (default: the optimizer's own)", gt=0)
    momentum: float = setting(0.0, "sgd, rmsprop: momentum", ge=0, lt=1)
    nesterov: bool = setting(False, "sgd: Nesterov momentum (needs momentum > 0)")
    weight_decay: float = setting(0.0, "L2 penalty (adamw: decoupled weight decay)", ge=0)
    beta2: float = setting(
        0.999, "adam, adamw: decay of the squared-gradient average (RealMLP: 0.95)", gt=0, lt=1
    )
    regularization_schedule: Literal["constant", "flat_cos"] = setting(
        "constant",
        "dropout and weight decay over training: constant, or flat_cos (as set for the first "
        "half, then down to 0 along half a cosine)",
    )
    label_smoothing: float | None = setting(
        None,
        "cross_entropy: label smoothing (default: 0.1 when the monitored metric is an "
        "accuracy, else 0)",
        ge=0,
        lt=1,
    )
    class_weights: str | list[float] | None = setting(
        None, "cross_entropy, nll: balanced, or one weight per class, e.g. 1,3"
    )
    clip_grad_norm: float | None = setting(None, "clip gradients to this norm", gt=0)
    scheduler: str | None = setting(
        None, "step, cosine, onecycle, plateau, coslog4 or flat_cos (per step)"
    )
    step_size: int = setting(10, "step: epochs between decays", ge=1)
    gamma: float = setting(0.1, "step, plateau: factor per decay", gt=0, le=1)
    max_lr: float | None = setting(None, "onecycle: peak learning rate (default: lr)", gt=0)
    min_lr: float = setting(0.0, "cosine, plateau: lowest learning rate", ge=0)
    scheduler_patience: int = setting(10, "plateau: epochs without improvement", ge=0)

    @field_validator("scheduler")
    @classmethod
    def _known_scheduler(cls, name: str | None) -> str | None:
        from ..schedulers import SCHEDULERS

        if name is not None:
            SCHEDULERS.get(name)
        return name

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, name: str | None) -> str | None:
        from ..losses import LOSSES

        if name is not None:
            LOSSES.get(name)
        return name

    @field_validator("class_weights", mode="before")
    @classmethod
    def _balanced_or_weights(cls, weights: Any) -> Any:
        numbers = isinstance(weights, (list, tuple)) and all(
            isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in weights
        )
        if weights is None or weights == "balanced" or (numbers and len(weights)):
            return weights
        raise ValueError(
            f"class_weights is 'balanced' or one weight >= 0 per class, e.g. [1, 3]; "
            f"got {weights!r}"
        )

    @field_validator("optimizer")
    @classmethod
    def _known_optimizer(cls, optimizer: str | Callable) -> str | Callable:
        from ..optim import OPTIMIZERS

        if isinstance(optimizer, str):
            OPTIMIZERS.get(optimizer)
        return optimizer


class TrainConfig(Section):
    """How the loop runs: epochs, batches, checkpoints, stopping, speed (``[train]``)."""

    epochs: int | None = setting(
        None,
        "epochs to train (default: from the data size, about 2000 steps within 10 to 200 "
        "epochs; with --resume: the new total)",
        ge=1,
    )
    batch_size: int = setting(32, "samples per training step", ge=1)
    seed: int = setting(0, "random seed: weights, splits, batch order, dropout", ge=0, lt=2**32)
    device: str = setting("auto", "auto (cuda, then mps, then cpu), cpu, cuda, mps")
    metrics: list[Any] | None = setting(
        None, "metrics, e.g. accuracy,f1 (default: by task in mlpkit train, none in fit)"
    )
    step: Literal["auto", "fused", "autograd"] = setting(
        "auto", "auto (fused where it applies), fused or autograd"
    )
    checkpoint_every: int | None = setting(
        None, "also keep checkpoints/epoch-NNNN.pt every N epochs", ge=1
    )
    keep_last: int | None = setting(None, "keep only the newest K epoch-NNNN.pt", ge=1)
    monitor: str | None = setting(
        None,
        "metric for best.pt, early stopping and plateau (default: val_accuracy with validation "
        "data and the accuracy metric, as classification has; else val_loss)",
    )
    monitor_mode: Literal["auto", "min", "max"] = setting(
        "auto", "auto (from the monitor's name), min or max"
    )
    early_stopping: int | None = setting(
        None,
        "stop after N epochs without improvement (default: a fifth of the epochs, 5 to 16, "
        "where there is a validation part; 0: never)",
        ge=0,
    )
    min_delta: float = setting(0.0, "early stopping: least improvement that counts", ge=0)
    restore_best: bool = setting(
        True, "end with the weights of the best epoch (with validation data or early stopping)"
    )
    deterministic: bool = setting(
        False, "deterministic algorithms only, and a fixed CPU thread count (bit-identical reruns)"
    )
    skip_nonfinite: bool = setting(False, "skip batches with a NaN or infinite loss")
    precision: Literal["fp32", "bf16"] = setting(
        "fp32", "fp32, or bf16 (autocast where faster, else a warning and fp32)"
    )
    compile: bool = setting(False, "train through torch.compile")
    threads: int | None = setting(
        None,
        "CPU threads (default: adapted to the machine's load as the run goes; a fixed count, "
        "or --deterministic, makes reruns and resumes bit-identical)",
        ge=1,
    )
    num_workers: int = setting(0, "DataLoader worker processes when streaming", ge=0)
    dist_timeout: float = setting(
        120.0,
        "seconds a process of a distributed run waits for the others before the run ends "
        "with an error (a rank that died or hangs)",
        gt=0,
    )
    drop_last: bool = setting(False, "drop a last, smaller training batch")
    member_batches: Literal["own", "shared"] = setting(
        "own",
        "an ensemble's batches: each member its own shuffle order of the rows (own), or every "
        "member the same batches (shared: one common batch, training metrics the ensemble's)",
    )

    @field_validator("metrics", mode="before")
    @classmethod
    def _metric_list(cls, metrics: Any) -> Any:
        # A metric is a name, a scikit-learn style score(y_true, y_pred) or a Metric.
        if isinstance(metrics, str) or callable(metrics):
            metrics = [metrics]
        if isinstance(metrics, (list, tuple)):
            from ..metrics import get_metric

            for metric in metrics:
                get_metric(metric)  # an unknown name is refused with the known ones
            return list(metrics)
        return metrics

    @model_validator(mode="after")
    def _keep_last_needs_every(self) -> TrainConfig:
        if self.keep_last is not None and self.checkpoint_every is None:
            raise ValueError("keep_last prunes epoch-NNNN.pt files; set checkpoint_every too")
        return self


class RunConfig(Section):
    """A whole run: its four sections and the run folder."""

    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    preset: Literal["default", "fast", "realmlp", "rtdl"] = setting(
        "default",
        "default, fast, realmlp or rtdl: a set of settings (mlpkit.config.presets) that any "
        "other flag or key overrides",
    )
    out: str | None = setting(None, "the run folder (default: runs/<data name>, or the next free)")
    nproc: int = setting(
        1,
        "processes training the run data-parallel on this machine (torch.distributed, gloo on "
        "CPUs); under torchrun, torchrun's processes instead",
        ge=1,
    )
    overwrite: bool = setting(False, "replace the run in --out, once the new run has finished")
    report: bool = setting(True, "end with report.html: plots, metrics, data, model")
    tensorboard: bool = setting(False, "also write TensorBoard event files to RUN_DIR/tensorboard")

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.model_dump(exclude_none=True))


SECTIONS: dict[str, type[Section]] = {
    "data": DataConfig,
    "model": ModelConfig,
    "optim": OptimConfig,
    "train": TrainConfig,
}
