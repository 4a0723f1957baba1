"""What a run's config describes: the defaults it leaves to the task, the model, the loss and
the metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from ..config import RunConfig
from ..config.presets import task_values
from ..config.settings import FLAT_KEYS
from ..data.prepare import PreparedData
from ..data.source import LoadedData
from ..data.target import TargetScaler
from ..errors import ConfigError
from ..losses import CLASSIFICATION_LOSSES, WeightedLoss, named_loss
from ..models import MLP, WideAndDeep
from ..optim import default_lr
from ..realmlp import RealMLP, input_plan
from ..stacked import Ensemble, StackedMLP

DEFAULT_METRICS = {"classification": ["accuracy", "f1"], "regression": ["rmse", "mae", "r2"]}
DEFAULT_LOSS = {"classification": "cross_entropy", "regression": "mse"}


def resolve(config: RunConfig, data: LoadedData) -> RunConfig:
    """Fill the settings left to defaults: loss and metrics by the task, the optimizer's lr;
    data files by their absolute paths, so that the run resumes from any working directory."""
    resolved = config.model_copy(deep=True)
    resolved.data.task = data.task
    # The preset's values for this task, where the setting was left unset.
    for key, value in task_values(resolved.preset, data.task).items():
        setting = FLAT_KEYS[key]
        section = getattr(resolved, setting.section)
        if getattr(section, setting.name) in (None, "auto"):
            setattr(section, setting.name, value)
    if resolved.model.activation == "auto":
        resolved.model.activation = "relu"
    for part in ("name", "val", "test"):
        path = getattr(resolved.data, part)
        if path is not None and Path(path).suffix and Path(path).is_file():  # not a name
            setattr(resolved.data, part, str(Path(path).expanduser().resolve()))
    if resolved.optim.loss is None:
        resolved.optim.loss = DEFAULT_LOSS[data.task]
    _check_loss_fits_task(resolved.optim.loss, data)
    if resolved.train.metrics is None:
        resolved.train.metrics = DEFAULT_METRICS[data.task]
    if resolved.optim.lr is None:  # config.toml says which learning rate ran
        resolved.optim.lr = default_lr(resolved.optim.optimizer)
    return resolved


def _check_loss_fits_task(loss: str, data: LoadedData) -> None:
    if data.task == "regression" and loss in CLASSIFICATION_LOSSES:
        raise ConfigError(
            f"loss {loss} is for classification, but {data.name} is a regression task; "
            "use mse, l1 or huber (or --task classification for class labels)"
        )
    if data.task == "classification" and loss not in CLASSIFICATION_LOSSES:
        raise ConfigError(
            f"loss {loss} is for regression, but {data.name} is a classification task; use "
            "cross_entropy, nll or bce_with_logits (or --task regression for numeric targets)"
        )
    if loss == "bce_with_logits" and data.n_outputs != 2:
        raise ConfigError(
            f"bce_with_logits is for two classes, but {data.name} has {data.n_outputs}; "
            "use cross_entropy"
        )


def build_model(
    config: RunConfig, prepared: PreparedData
) -> MLP | WideAndDeep | RealMLP | Ensemble:
    """The model a config describes, sized for the prepared (preprocessed) inputs.

    With ``bce_with_logits`` a two-class model has one output (the positive class's logit);
    with ``nll`` it ends in a log-softmax, which that loss expects.
    """
    settings, outputs = config.model, prepared.source.n_outputs
    if config.optim.loss == "bce_with_logits":
        outputs = 1
    if settings.ensemble > 1:  # of plain MLPs only (the config refuses the others)
        return _ensemble(config, prepared.n_inputs, outputs)
    if settings.architecture == "realmlp":
        return _realmlp(config, prepared, outputs)
    layers = dict(
        activation=settings.activation,
        dropout=settings.dropout,
        batch_norm=settings.batch_norm,
        log_softmax=config.optim.loss == "nll",
    )
    if settings.architecture == "wide_deep":
        widths = {name: len(positions) for name, positions in (prepared.groups or {}).items()}
        return WideAndDeep(
            widths.get("wide", prepared.n_inputs),
            widths.get("deep", prepared.n_inputs),
            settings.hidden,
            outputs,
            aux_output=settings.aux_weight > 0,
            **layers,
        )
    return MLP(prepared.n_inputs, settings.hidden, outputs, **layers)


def _realmlp(config: RunConfig, prepared: PreparedData, outputs: int) -> RealMLP:
    """RealMLP sized for the prepared inputs: PBLD embeddings for the numeric columns, learned
    embeddings for categorical ones with many levels; a regression's outputs clamped to the
    range of its training targets (in the units the model predicts)."""
    numeric, embedded = input_plan(prepared.preprocessor)
    output_range = None
    if config.data.task == "regression":
        y = np.asarray(prepared.y_train, dtype=np.float64).reshape(len(prepared.y_train), -1)
        if prepared.target_scaler is not None:
            y = prepared.target_scaler.transform(y)
        output_range = [[float(lo), float(hi)] for lo, hi in zip(y.min(0), y.max(0), strict=True)]
    settings = config.model
    return RealMLP(
        prepared.n_inputs, settings.hidden, outputs, settings.activation, settings.dropout,
        numeric=numeric, embedded=embedded, output_range=output_range,
        log_softmax=config.optim.loss == "nll",
    )  # fmt: skip


def _ensemble(config: RunConfig, inputs: int, outputs: int) -> Ensemble:
    """``--ensemble K``: K MLPs of the configured shape, member k from seed + k, as one model."""
    tasks = {"cross_entropy": "classification", "mse": "regression"}
    if config.optim.loss not in tasks:
        raise ConfigError(
            f"an ensemble trains with cross_entropy or mse, not {config.optim.loss}; "
            "choose one with --loss, or set --ensemble 1"
        )
    settings, members = config.model, config.model.ensemble
    stack = StackedMLP(
        members, inputs, settings.hidden, outputs, settings.activation, settings.dropout,
        seeds=[config.train.seed + k for k in range(members)],
    )  # fmt: skip
    return Ensemble(stack, tasks[config.optim.loss])  # type: ignore[arg-type]


def check_groups(config: RunConfig) -> None:
    """Input groups need a model that takes them: Wide & Deep takes ``wide`` and ``deep``."""
    groups = config.data.groups
    if not groups:
        return
    if config.model.architecture != "wide_deep":
        raise ConfigError(
            "input groups feed a model that takes named inputs; set architecture = 'wide_deep' "
            "with groups named wide and deep, or train your own model in Python: "
            "prepared = prepare_data(config), then fit(model, loss, prepared.train, prepared.val)"
        )
    if set(groups) != {"wide", "deep"}:
        raise ConfigError(
            f"a wide_deep model takes the input groups wide and deep, got {', '.join(groups)}; "
            "name the groups wide and deep (or leave groups out to feed all features to both)"
        )


def run_loss(
    config: RunConfig, y_train: np.ndarray | None = None, class_weights: Any = None
) -> nn.Module:
    """The loss a run trains and is evaluated with; with an auxiliary output (``aux_weight``
    w > 0), ``(1 - w) * main + w * auxiliary``, both against the same target.

    ``class_weights`` (as saved in ``model.json``) replace the config's, so that a finished run
    is evaluated without its training labels.
    """
    optim = config.optim
    weights = optim.class_weights if class_weights is None else class_weights
    name = optim.loss or DEFAULT_LOSS[config.data.task]
    loss = named_loss(name, optim.label_smoothing, weights, y_train)
    aux = config.model.aux_weight
    return WeightedLoss([loss, loss], [1 - aux, aux]) if aux else loss


def run_metrics(config: RunConfig, target_scaler: TargetScaler | None) -> list[Any]:
    """The run's metrics; with a scaled target, computed in the target's original units."""
    names = config.train.metrics or []
    return list(names) if target_scaler is None else target_scaler.metrics(names)
