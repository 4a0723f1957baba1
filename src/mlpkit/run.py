"""A run: data -> split -> preprocessing -> model -> fit -> test metrics -> the run folder.

The run folder holds ``config.toml`` (the resolved config; ``mlpkit train`` on it reruns the
run), ``history.csv``, ``metrics.json`` (test metrics), ``model.safetensors`` + ``model.json`` and
``checkpoints/`` (``last.pt``, ``best.pt``, ``epoch-NNNN.pt``); ``mlpkit.resume.resume_run``
continues a run from its last checkpoint.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from .callbacks import Callback
from .checkpoint import Checkpoint, atomic_write
from .config import RunConfig
from .data.fingerprint import check_unchanged, data_files
from .data.loading import load_data
from .data.prepare import ModelInputs, PreparedData, prepare_data
from .data.preprocess import Preprocessor
from .data.source import LoadedData
from .data.target import TargetScaler
from .errors import ConfigError, DataError
from .evaluation import evaluate
from .interrupt import TrainingInterrupted
from .losses import CLASSIFICATION_LOSSES, WeightedLoss, make_loss
from .models import MLP, WideAndDeep
from .optim import DEFAULT_LR
from .seeding import seed_everything
from .serialize import load_model, save_model

log = logging.getLogger(__name__)

DEFAULT_METRICS = {"classification": ["accuracy", "f1"], "regression": ["rmse", "mae", "r2"]}
DEFAULT_LOSS = {"classification": "cross_entropy", "regression": "mse"}


@dataclass
class RunResult:
    run_dir: Path
    history: pd.DataFrame
    test_metrics: dict[str, float]
    model: MLP
    config: RunConfig

    @property
    def step(self) -> str:
        return str(self.history.attrs.get("step_details", "autograd"))


def resolve(config: RunConfig, data: LoadedData) -> RunConfig:
    """Fill the settings left to defaults: loss and metrics by the task, the optimizer's lr."""
    resolved = config.model_copy(deep=True)
    resolved.data.task = data.task
    if resolved.optim.loss is None:
        resolved.optim.loss = DEFAULT_LOSS[data.task]
    _check_loss_fits_task(resolved.optim.loss, data)
    if resolved.train.metrics is None:
        resolved.train.metrics = DEFAULT_METRICS[data.task]
    if resolved.optim.lr is None:  # config.toml says which learning rate ran
        resolved.optim.lr = DEFAULT_LR.get(resolved.optim.optimizer, 1e-3)
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


def build_model(config: RunConfig, prepared: PreparedData) -> MLP | WideAndDeep:
    """The model a config describes, sized for the prepared (preprocessed) inputs.

    With ``bce_with_logits`` a two-class model has one output (the positive class's logit);
    with ``nll`` it ends in a log-softmax, which that loss expects.
    """
    settings, outputs = config.model, prepared.source.n_outputs
    if config.optim.loss == "bce_with_logits":
        outputs = 1
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
    options: dict[str, Any] = {}
    if optim.loss == "cross_entropy" and optim.label_smoothing:
        options["label_smoothing"] = optim.label_smoothing
    weights = optim.class_weights if class_weights is None else class_weights
    if weights is not None:
        options.update(class_weights=weights, targets=y_train)
    loss = make_loss(optim.loss or DEFAULT_LOSS[config.data.task], **options)
    aux = config.model.aux_weight
    return WeightedLoss([loss, loss], [1 - aux, aux]) if aux else loss


def new_run_dir(config: RunConfig, data: LoadedData) -> Path:
    """``config.out``, or ``runs/<data name>`` with ``-2``, ``-3``... if that exists already."""
    if config.out:
        return Path(config.out)
    base = Path("runs") / data.name
    candidate, number = base, 1
    while candidate.exists():
        number += 1
        candidate = base.with_name(f"{base.name}-{number}")
    return candidate


def train_run(
    config: RunConfig,
    callbacks: Iterable[Callback] = (),
    resume_from: dict[str, Any] | None = None,
) -> RunResult:
    """Train as ``config`` says and write the run folder (``resume_from``: see ``resume_run``).

    >>> result = train_run(RunConfig())  # doctest: +SKIP
    >>> result.test_metrics["accuracy"]
    """
    check_groups(config)
    files = [config.data.name, config.data.val, config.data.test]
    if resume_from is not None:
        check_unchanged(resume_from.get("data_files"), files)
    seed_everything(config.train.seed)
    prepared = prepare_data(config)
    config = resolve(config, prepared.source)
    model = build_model(config, prepared)
    loss = run_loss(config, prepared.y_train)
    metrics = _metrics(config, prepared.target_scaler)
    run_dir = new_run_dir(config, prepared.source)
    config.out = str(run_dir)
    # Written first, so that a run stopped part-way can be resumed or rerun from its folder.
    _write_text(run_dir / "config.toml", config.to_toml())
    train = config.train
    checkpoint = Checkpoint(
        run_dir / "checkpoints",
        every=train.checkpoint_every,
        keep_last=train.keep_last,
        monitor=train.monitor,
        mode=train.monitor_mode,
        extra={
            "config": config.model_dump(mode="json"),
            "architecture": model.arguments(),
            "data_files": data_files(files),
        },
    )
    try:
        history = _fit(config, model, loss, metrics, prepared, checkpoint, callbacks, resume_from)
    except TrainingInterrupted as stop:
        stop.run_dir = run_dir
        raise
    test_metrics: dict[str, float] = {}
    if prepared.test is not None:
        test_metrics = evaluate(model, prepared.test, metrics, loss=loss)
    history.to_csv(run_dir / "history.csv", index=False)
    _write_text(run_dir / "metrics.json", json.dumps(test_metrics, indent=2))
    save_model(run_dir, model, _model_metadata(config, prepared, loss))
    return RunResult(run_dir, history, test_metrics, model, config)


def _fit(config, model, loss, metrics, prepared, checkpoint, callbacks, resume_from):
    from .trainer import fit

    return fit(
        model,
        loss,
        prepared.train,
        prepared.val,
        epochs=config.train.epochs,
        batch_size=config.train.batch_size,
        optimizer=config.optim.optimizer,
        lr=config.optim.lr,
        momentum=config.optim.momentum,
        weight_decay=config.optim.weight_decay,
        metrics=metrics,
        device=config.train.device,
        seed=config.train.seed,
        checkpoint=checkpoint,
        callbacks=[*training_controls(config), *callbacks],
        step=config.train.step,
        clip_grad_norm=config.optim.clip_grad_norm,
        skip_nonfinite=config.train.skip_nonfinite,
        deterministic=config.train.deterministic,
        resume_from=resume_from,
        drop_last=config.train.drop_last,
        num_workers=config.train.num_workers,
        precision=config.train.precision,
        compile=config.train.compile,
        threads=config.train.threads,
    )


def training_controls(config: RunConfig) -> list[Callback]:
    """The scheduler and early stopping a config asks for, as callbacks."""
    from .early_stopping import EarlyStopping
    from .schedulers import LRScheduler

    optim, train = config.optim, config.train
    controls: list[Callback] = []
    if optim.scheduler is not None:
        controls.append(
            LRScheduler(
                optim.scheduler,
                monitor=train.monitor,
                mode=train.monitor_mode,
                step_size=optim.step_size,
                gamma=optim.gamma,
                max_lr=optim.max_lr,
                min_lr=optim.min_lr,
                patience=optim.scheduler_patience,
            )
        )
    if train.early_stopping is not None:
        controls.append(
            EarlyStopping(
                train.early_stopping,
                monitor=train.monitor,
                mode=train.monitor_mode,
                min_delta=train.min_delta,
                restore_best=train.restore_best,
            )
        )
    return controls


def _metrics(config: RunConfig, target_scaler: TargetScaler | None) -> list[Any]:
    """The run's metrics; with a scaled target, computed in the target's original units."""
    names = config.train.metrics or []
    return list(names) if target_scaler is None else target_scaler.metrics(names)


def _model_metadata(config: RunConfig, prepared: PreparedData, loss: nn.Module) -> dict[str, Any]:
    source = prepared.source
    main_loss = loss.losses[0] if isinstance(loss, WeightedLoss) else loss
    class_weights = getattr(main_loss, "weight", None)
    groups = prepared.groups or {}
    return {
        "task": source.task,
        "data": source.name,
        "target": config.data.target or source.target,
        "feature_names": source.feature_names,
        "class_names": source.class_names,
        "image_shape": source.image_shape,
        "input_names": prepared.preprocessor.output_names_,
        "input_groups": {name: positions.tolist() for name, positions in groups.items()} or None,
        "class_weights": None if class_weights is None else class_weights.tolist(),
        "preprocessing": {
            **prepared.preprocessor.to_dict(),
            "target": None if prepared.target_scaler is None else prepared.target_scaler.to_dict(),
        },
    }


def _saved_preprocessing(metadata: dict[str, Any]) -> tuple[Preprocessor, TargetScaler | None]:
    state = metadata["preprocessing"]
    target = state.get("target")
    return Preprocessor.from_dict(state), None if target is None else TargetScaler.from_dict(target)


def _saved_inputs(metadata: dict[str, Any], preprocessor: Preprocessor) -> ModelInputs:
    """Raw features to the saved model's inputs: its preprocessing and input groups."""
    groups = metadata.get("input_groups") or {}
    positions = {name: np.asarray(p, dtype=np.int64) for name, p in groups.items()}
    return ModelInputs(preprocessor, positions or None)


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def evaluate_run(
    run_dir: str | Path, data: str | None = None, target: str | None = None
) -> dict[str, float]:
    """Test metrics of a finished run: on its own test split, or on another file's data.

    The metrics are also written to ``evaluation.json`` in the run folder.
    """
    from .config import load_config, merge

    run_dir = Path(run_dir)
    model, metadata = load_model(run_dir)
    config = load_config(run_dir / "config.toml")
    preprocessor, target_scaler = _saved_preprocessing(metadata)
    if data is not None:
        from .data.loading import select_features

        overrides: dict[str, Any] = {"data": data, "test_fraction": 0.0, "val_fraction": 0.0}
        overrides.update(val=None, test=None, target=target or metadata.get("target"))
        loaded = load_data(merge(config, overrides).data, classes=metadata.get("class_names"))
        raw = select_features(loaded.X, preprocessor, overrides["target"], loaded.name)
        y = loaded.y if target_scaler is None else target_scaler.transform(loaded.y)
        test = (_saved_inputs(metadata, preprocessor)(raw, Path(data).name), y)
    else:
        test = prepare_data(config, preprocessor, target_scaler).test
        if test is None:
            raise DataError(f"{run_dir} has no test split; evaluate it on a file with --data")
    loss = run_loss(config, class_weights=metadata.get("class_weights"))
    metrics = evaluate(model, test, _metrics(config, target_scaler), loss=loss)
    _write_text(run_dir / "evaluation.json", json.dumps(metrics, indent=2))
    return metrics


def predict_run(run_dir: str | Path, inputs: str | Path, top_k: int = 1) -> pd.DataFrame:
    """Predictions of a finished run on a CSV / TSV / Parquet / NPY / NPZ file of features.

    The file goes through the preprocessing saved with the model; regression values come back
    in the target's original units.
    """
    from .data.loading import read_features
    from .prediction import predict

    model, metadata = load_model(run_dir)
    preprocessor, target_scaler = _saved_preprocessing(metadata)
    raw = read_features(inputs, preprocessor, metadata.get("target"))
    predictions = predict(
        model,
        _saved_inputs(metadata, preprocessor)(raw, Path(inputs).name),
        top_k=top_k,
        class_names=metadata.get("class_names"),
        task=metadata["task"],
    )
    if target_scaler is not None and predictions.values is not None:
        predictions.values = target_scaler.inverse_transform(predictions.values)
    return predictions.to_frame()
