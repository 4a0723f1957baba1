"""``cross_validate``: K-fold cross-validation as one stacked run, and its folder.

The K folds' models train as the K members of one ``StackedMLP`` (one batched product per
layer for all of them), each on per-member batches of its own training folds and with the
gradient of its own loss (``StackedStep(own_gradients=True)``), so that member k learns exactly
as a run of its own on fold k's training rows would: it never sees its held-out fold. (Two
differences from K separate runs: a fold with more training rows than the smallest leaves a
different few out of each epoch, as the members take their batches together; and dropout
draws all members' masks at once, from the same distribution but not the same draws.) The
folder holds ``cv.json`` (each metric's mean, std, min and max over the folds, and each fold's
scores), ``history.csv`` (per-fold columns ``fold<k>_val_<name>`` and their mean ``val_<name>``
and spread ``val_<name>_std``) and ``config.toml``.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ..callbacks.base import Callback
from ..callbacks.controls import training_controls
from ..config import RunConfig
from ..data.batching import TensorBatcher
from ..devices import resolve_device
from ..errors import ConfigError
from ..io.atomic import write_text
from ..metrics import compute_all, get_metrics
from ..runs.build import resolve, run_loss, run_metrics
from ..runs.folder import RunFolder, default_folder
from ..stacked.model import StackedMLP
from ..stacked.predict import Ensemble
from ..stacked.step import StackedStep
from ..stacked.training import STACKED_OPTIMIZERS, stacked_optimizer, task_of
from ..training.defaults import resolve_label_smoothing, resolve_training, steps_per_epoch
from ..training.seeding import seed_everything
from ..training.trainer import Trainer
from .data import FoldData, cv_config, prepare_folds
from .folds import check_fold_count
from .scores import FoldScores, held_out_batch, spread

log = logging.getLogger(__name__)


@dataclass
class CVResult:
    """What ``cross_validate`` returns: the folder written, the history, each metric's spread
    over the folds (``summary["val_accuracy"]["mean"]``...), each fold's kept scores, how the
    scores were chosen (``scores_at``) and the inputs preprocessed, and the folds' models
    (``model.member(k)`` is fold k's, with the weights its scores were taken with)."""

    folder: Path
    history: pd.DataFrame
    summary: dict[str, dict[str, Any]]
    folds: list[dict[str, Any]]
    config: RunConfig
    scores_at: str
    preprocessing: str
    model: StackedMLP
    details: dict[str, Any] = field(default_factory=dict)


def cross_validate(
    config: RunConfig, folds: int = 5, callbacks: Iterable[Callback] = ()
) -> CVResult:
    """K-fold cross-validation of the run ``config`` describes, as one stacked run.

    The data is prepared once (a test part, where the config asks for one, stays aside and is
    scored by each fold's model; the validation fraction is not used: the folds are the
    validation) and cut into ``folds`` folds, stratified for classification and seeded by the
    run's seed. Fold k's model starts from seed + k, trains on the other folds and is scored on
    fold k after every epoch; each fold stops early and keeps its best epoch as a run of its
    own would. Nothing is written unless the run finishes (the folder follows ``out`` and
    ``overwrite`` as ``mlpkit train``'s does; default ``runs/<data>-cv``).

    >>> result = cross_validate(merge(RunConfig(), {"data": "iris"}), folds=5)  # doctest: +SKIP
    >>> accuracy = result.summary["val_accuracy"]  # doctest: +SKIP
    >>> accuracy["mean"], accuracy["std"], accuracy["folds"]  # doctest: +SKIP
    """
    folds = check_fold_count(folds)
    _check_supported(config)
    seed_everything(config.train.seed)
    config = cv_config(config)
    data = prepare_folds(config, folds)
    config = resolve(config, data.prepared.source)
    config = _left_to_the_data(config, data)
    train = config.train
    device = resolve_device(train.device)
    stack = _stack(config, data).to(device)
    loss = run_loss(config, data.prepared.y_train).to(device)
    metrics = get_metrics(run_metrics(config, data.prepared.target_scaler))
    optimizer = stacked_optimizer(
        config.optim.optimizer, stack.parameters(), lr=config.optim.lr,
        momentum=config.optim.momentum, nesterov=config.optim.nesterov,
        weight_decay=config.optim.weight_decay,
    )  # fmt: skip
    step = FoldStep(StackedStep(stack, loss, optimizer, config.optim.clip_grad_norm,
                                own_gradients=True))  # fmt: skip
    batches = _training_batches(data, config, device)
    scores = _fold_scores(stack, data, config, loss, metrics, device)
    # The schedule the settings ask for; stopping and best epochs are each fold's own (scores).
    controls = training_controls(
        config.optim,
        train.model_copy(update={"early_stopping": 0, "restore_best": False,
                                 "monitor": train.monitor or "val_loss"}),
    )  # fmt: skip
    target = default_folder(f"{data.prepared.source.name}-cv") if config.out is None else None
    folder = RunFolder(target or Path(str(config.out)), overwrite=config.overwrite)
    config.out = str(folder.target)
    created = not folder.target.exists()
    try:
        with folder:
            trainer = Trainer(
                Ensemble(stack, task_of(loss)), loss, optimizer, batches, None,
                epochs=int(train.epochs or 1), metrics=metrics, device=device,
                callbacks=[scores, *controls, *callbacks], threads=train.threads,
                adaptive_threads=not train.deterministic,
            )  # fmt: skip
            # The loop builds the ensemble's step (the mean loss's gradient); folds need each
            # member's own gradient and per-member targets.
            trainer.step = step
            history = trainer.fit()
            result = _result(folder.path, config, data, history, scores, stack, loss, metrics)
            _write(folder.path, result, folds)
            folder.commit()
    except BaseException:
        if created:  # a new folder holds nothing but its lock: leave no trace
            shutil.rmtree(folder.target, ignore_errors=True)
        raise
    result.folder = folder.target
    return result


class FoldStep:
    """The stacked step as the loop sees it for folds: each member's gradient is its own, and
    the outputs come back flattened (K * b, out) beside the per-member batches' flattened
    targets, so that the training metrics pool every fold's training rows."""

    def __init__(self, inner: StackedStep) -> None:
        self.inner = inner
        self.name = "stacked"

    def train_batch(self, inputs: torch.Tensor, targets: torch.Tensor):
        loss, outputs = self.inner.train_batch(inputs, targets)  # it reads (K * b) as (K, b)
        return loss, outputs.reshape(-1, outputs.shape[-1])


def _check_supported(config: RunConfig) -> None:
    """What the stacked step cannot run, refused before anything is read or written."""
    problems = {
        "--ensemble": config.model.ensemble > 1,
        "--architecture wide_deep": config.model.architecture != "mlp",
        "--batch-norm": config.model.batch_norm,
        "--nproc": config.nproc > 1,
        "--precision bf16": config.train.precision != "fp32",
        "--compile": config.train.compile,
        "--skip-nonfinite": config.train.skip_nonfinite,
        "--step autograd": config.train.step == "autograd",
        # Each fold's batches come from its own training rows.
        "--member-batches shared": config.train.member_batches == "shared",
    }
    given = [flag for flag, bad in problems.items() if bad]
    if given:
        raise ConfigError(
            f"cross-validation trains the folds as one stacked model of plain MLPs, which "
            f"{', '.join(given)} cannot run in; leave {'it' if len(given) == 1 else 'them'} out"
        )
    asked = {"--tensorboard": config.tensorboard,
             "--checkpoint-every": config.train.checkpoint_every is not None}  # fmt: skip
    unused = [flag for flag, given in asked.items() if given]
    if unused:
        log.warning("a cv run writes no checkpoints or TensorBoard files; %s not used",
                    " and ".join(unused))  # fmt: skip
    if config.optim.loss not in (None, "cross_entropy", "mse"):
        raise ConfigError(
            f"cross-validation trains with cross_entropy or mse, not {config.optim.loss}; "
            "choose one with --loss"
        )
    name = config.optim.optimizer
    if not isinstance(name, str) or name not in STACKED_OPTIMIZERS:
        raise ConfigError(
            f"cross-validation trains with {', '.join(STACKED_OPTIMIZERS)}, not {name!r}; "
            "choose one with --optimizer"
        )


def _left_to_the_data(config: RunConfig, data: FoldData) -> RunConfig:
    """Epochs, each fold's early stopping and label smoothing decided as for a run of one fold
    (its training rows, validated on its held-out rows)."""
    resolved = config.model_copy(deep=True)
    rows = min(len(t) for t in data.training)
    steps = steps_per_epoch(rows, config.train.batch_size, config.train.drop_last)
    resolved.train = resolve_training(config.train, steps, has_validation=True)
    if config.optim.loss == "cross_entropy":
        resolved.optim.label_smoothing = resolve_label_smoothing(config.optim, resolved.train)
    return resolved


def _stack(config: RunConfig, data: FoldData) -> StackedMLP:
    """Fold k's model: the configured MLP from seed + k."""
    settings, seed = config.model, config.train.seed
    return StackedMLP(
        data.folds, data.inputs.shape[-1], settings.hidden, data.prepared.source.n_outputs,
        settings.activation, settings.dropout, seeds=[seed + k for k in range(data.folds)],
    )  # fmt: skip


def _fold_scores(stack, data: FoldData, config: RunConfig, loss, metrics, device) -> FoldScores:
    """Each fold's held-out rows (through its own preprocessing) and its early stopping."""
    held_out = [data.fold_inputs(k, rows) for k, rows in enumerate(data.held_out)]
    train = config.train
    return FoldScores(
        stack,
        held_out_batch(held_out).to(device),
        [data.targets[torch.as_tensor(rows)].to(device) for rows in data.held_out],
        loss,
        metrics,
        monitor=train.monitor or "val_loss",
        mode=train.monitor_mode,
        min_delta=train.min_delta,
        patience=train.early_stopping,
        restore_best=train.restore_best,
    )


def _training_batches(data: FoldData, config: RunConfig, device: torch.device) -> TensorBatcher:
    train = config.train
    shared = data.inputs[0] if data.per_fold else data.inputs
    batches = TensorBatcher(
        shared, data.targets, train.batch_size, shuffle=True, drop_last=train.drop_last,
        device=device, seed=train.seed,
    )  # fmt: skip
    rows = [torch.as_tensor(r, dtype=torch.long) for r in data.training]
    batches.per_member(data.folds, rows, inputs=data.inputs if data.per_fold else None)
    return batches


def _result(folder, config, data, history, scores, stack, loss, metrics) -> CVResult:
    per_fold = scores.folds()
    if data.test is not None:  # each fold's kept model on the test part kept aside
        for row, test in zip(per_fold, _test_scores(stack, data, loss, metrics), strict=True):
            row.update(test)
    names = [n for n in per_fold[0] if n.startswith(("val_", "test_"))]
    summary = {name: spread([row[name] for row in per_fold]) for name in names}
    kept = "best" if config.train.restore_best else "last"
    scores_at = (
        f"each fold's best epoch by {scores.monitor} (restore_best)"
        if kept == "best"
        else "the last epoch each fold trained (restore_best off)"
    )
    details = {
        "rows": int(len(data.targets)),
        "test_rows": 0 if data.test is None else int(len(data.test[1])),
        "stratified": data.prepared.source.task == "classification",
        "epochs": int(config.train.epochs or 0),
        "epochs_run": len(history),
        "patience": int(config.train.early_stopping or 0),
        "training_time": float(history["total_time"].iloc[-1]) if len(history) else 0.0,
        "threads": history.attrs.get("threads"),
        "target_scaling": (
            "standardised once, on all the folds' rows" if data.prepared.target_scaler else None
        ),
    }
    return CVResult(folder, history, summary, per_fold, config, scores_at, data.preprocessing,
                    stack, details)  # fmt: skip


def _test_scores(
    stack: StackedMLP, data: FoldData, loss: Any, metrics: Sequence[Any]
) -> list[dict[str, float]]:
    assert data.test is not None
    inputs, targets = data.test
    device = stack.weights[0].device
    stack.eval()
    with torch.inference_mode():
        outputs = stack(inputs.to(device))
    targets = targets.to(device)
    rows = []
    for k in range(stack.members):
        row = {"test_loss": float(loss(outputs[k], targets))}
        row.update({f"test_{n}": v for n, v in compute_all(metrics, outputs[k], targets).items()})
        rows.append(row)
    return rows


def _write(folder: Path, result: CVResult, folds: int) -> None:
    """``config.toml``, ``history.csv`` and ``cv.json``, each written atomically."""
    config = result.config
    again = Path(str(config.out)) / "config.toml"
    header = f"# cross-validated with: mlpkit cv {again} --folds {folds}\n"
    write_text(folder / "config.toml", header + config.to_toml())
    write_text(folder / "history.csv", result.history.to_csv(index=False))
    report = {
        "data": config.data.name,
        "task": config.data.task,
        "folds": folds,
        "seed": config.train.seed,
        "scores_at": result.scores_at,
        "preprocessing": result.preprocessing,
        **result.details,
        "metrics": result.summary,
        "per_fold": result.folds,
    }
    write_text(folder / "cv.json", json.dumps(report, indent=2))
