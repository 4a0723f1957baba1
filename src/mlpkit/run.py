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

from .callbacks import Callback
from .checkpoint import Checkpoint, atomic_write
from .config import RunConfig
from .data.loading import load_data
from .data.preprocess import Standardizer
from .data.source import LoadedData
from .data.split import split_indices
from .errors import DataError
from .evaluation import evaluate
from .interrupt import TrainingInterrupted
from .models import MLP
from .seeding import seed_everything
from .serialize import load_model, save_model

log = logging.getLogger(__name__)

DEFAULT_METRICS = {"classification": ["accuracy", "f1"], "regression": ["rmse", "mae", "r2"]}
DEFAULT_LOSS = {"classification": "cross_entropy", "regression": "mse"}


@dataclass
class PreparedData:
    """A data set split and scaled, ready for ``fit``."""

    source: LoadedData
    scaler: Standardizer
    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray] | None
    test: tuple[np.ndarray, np.ndarray] | None


@dataclass
class RunResult:
    run_dir: Path
    history: pd.DataFrame
    test_metrics: dict[str, float]
    model: MLP
    config: RunConfig

    @property
    def step(self) -> str:
        return str(self.history.attrs.get("step", "autograd"))


def prepare_data(config: RunConfig) -> PreparedData:
    """Load, split (seeded) and standardise on the training part only."""
    data = load_data(config.data)
    parts = split_indices(
        data, config.data.val_fraction, config.data.test_fraction, seed=config.train.seed
    )
    X_train = data.X[parts.train]
    scaler = (
        Standardizer.fit(X_train)
        if config.data.scale_features
        else Standardizer.identity(data.n_features)
    )

    def part(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        return (scaler.transform(X), y) if len(X) else None

    test = data.test if data.test is not None else (data.X[parts.test], data.y[parts.test])
    train = part(X_train, data.y[parts.train])
    assert train is not None
    return PreparedData(
        data, scaler, train, part(data.X[parts.val], data.y[parts.val]), part(*test)
    )


def resolve(config: RunConfig, data: LoadedData) -> RunConfig:
    """Fill the settings left to defaults (loss, metrics) from the data set's task."""
    resolved = config.model_copy(deep=True)
    resolved.data.task = data.task
    if resolved.optim.loss is None:
        resolved.optim.loss = DEFAULT_LOSS[data.task]
    if resolved.train.metrics is None:
        resolved.train.metrics = DEFAULT_METRICS[data.task]
    return resolved


def build_model(config: RunConfig, data: LoadedData) -> MLP:
    return MLP(
        data.n_features,
        config.model.hidden,
        data.n_outputs,
        activation=config.model.activation,
        dropout=config.model.dropout,
        batch_norm=config.model.batch_norm,
    )


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
    from .losses import make_loss

    seed_everything(config.train.seed)
    prepared = prepare_data(config)
    config = resolve(config, prepared.source)
    model = build_model(config, prepared.source)
    loss = make_loss(
        config.optim.loss,
        **_loss_options(config, prepared.train[1]),
    )
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
        extra={"config": config.model_dump(mode="json"), "architecture": model.arguments()},
    )
    try:
        history = _fit(config, model, loss, prepared, checkpoint, callbacks, resume_from)
    except TrainingInterrupted as stop:
        stop.run_dir = run_dir
        raise
    test_metrics: dict[str, float] = {}
    if prepared.test is not None:
        test_metrics = evaluate(model, prepared.test, config.train.metrics or [], loss=loss)
    history.to_csv(run_dir / "history.csv", index=False)
    _write_text(run_dir / "metrics.json", json.dumps(test_metrics, indent=2))
    save_model(run_dir, model, _model_metadata(config, prepared))
    return RunResult(run_dir, history, test_metrics, model, config)


def _fit(config, model, loss, prepared, checkpoint, callbacks, resume_from) -> pd.DataFrame:
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
        metrics=config.train.metrics or [],
        device=config.train.device,
        seed=config.train.seed,
        checkpoint=checkpoint,
        callbacks=[*training_controls(config), *callbacks],
        step=config.train.step,
        clip_grad_norm=config.optim.clip_grad_norm,
        skip_nonfinite=config.train.skip_nonfinite,
        deterministic=config.train.deterministic,
        resume_from=resume_from,
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


def _loss_options(config: RunConfig, y_train: np.ndarray) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if config.optim.loss in ("cross_entropy",) and config.optim.label_smoothing:
        options["label_smoothing"] = config.optim.label_smoothing
    if config.optim.class_weights is not None:
        options["class_weights"] = config.optim.class_weights
        options["targets"] = y_train
    return options


def _model_metadata(config: RunConfig, prepared: PreparedData) -> dict[str, Any]:
    source = prepared.source
    return {
        "task": source.task,
        "data": source.name,
        "target": config.data.target,
        "feature_names": source.feature_names,
        "class_names": source.class_names,
        "image_shape": source.image_shape,
        "preprocessing": {"standardize": prepared.scaler.to_dict()},
    }


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def evaluate_run(
    run_dir: str | Path, data: str | None = None, target: str | None = None
) -> dict[str, float]:
    """Test metrics of a finished run: on its own test split, or on another file's data.

    The metrics are also written to ``evaluation.json`` in the run folder.
    """
    from .config import load_config, merge
    from .losses import make_loss

    run_dir = Path(run_dir)
    model, metadata = load_model(run_dir)
    config = load_config(run_dir / "config.toml")
    if data is not None:
        overrides: dict[str, Any] = {"data": data, "test_fraction": 0.0, "val_fraction": 0.0}
        overrides["target"] = target or metadata.get("target")
        loaded = load_data(merge(config, overrides).data)
        scaler = Standardizer.from_dict(metadata["preprocessing"]["standardize"])
        test = (scaler.transform(_select_features(loaded, metadata)), loaded.y)
    else:
        test = prepare_data(config).test
        if test is None:
            raise DataError(f"{run_dir} has no test split; evaluate it on a file with --data")
    loss = make_loss(config.optim.loss or DEFAULT_LOSS[metadata["task"]])
    metrics = evaluate(model, test, config.train.metrics or [], loss=loss)
    _write_text(run_dir / "evaluation.json", json.dumps(metrics, indent=2))
    return metrics


def _select_features(loaded: LoadedData, metadata: dict[str, Any]) -> np.ndarray:
    names = metadata.get("feature_names") or []
    if loaded.feature_names and set(names) <= set(loaded.feature_names):
        index = [loaded.feature_names.index(n) for n in names]
        return loaded.X[:, index]
    return loaded.X


def predict_run(run_dir: str | Path, inputs: str | Path, top_k: int = 1) -> pd.DataFrame:
    """Predictions of a finished run on a CSV / NPY / NPZ file of features."""
    from .data.loading import read_features
    from .prediction import predict

    model, metadata = load_model(run_dir)
    X = read_features(inputs, metadata.get("feature_names") or [], metadata.get("target"))
    scaler = Standardizer.from_dict(metadata["preprocessing"]["standardize"])
    predictions = predict(
        model,
        scaler.transform(X),
        top_k=top_k,
        class_names=metadata.get("class_names"),
        task=metadata["task"],
    )
    return predictions.to_frame()
