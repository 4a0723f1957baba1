"""A run: data -> split -> preprocessing -> model -> fit -> test metrics -> the run folder.

The run folder holds ``config.toml`` (the resolved config; ``mlpkit train`` on it reruns the
run), ``history.csv``, ``metrics.json`` (test metrics), ``model.safetensors`` + ``model.json`` and
``checkpoints/`` (``last.pt``, ``best.pt``, ``epoch-NNNN.pt``); ``mlpkit.runs.resume.resume_run``
continues a run from its last checkpoint.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..callbacks.base import Callback
from ..callbacks.checkpoint import Checkpoint
from ..callbacks.tensorboard import TensorBoard
from ..config import FIT_SETTINGS, RunConfig
from ..data.fingerprint import check_unchanged, data_files
from ..data.prepare import prepare_data
from ..data.summary import preprocessing_summary
from ..devices import cpu_threads
from ..distributed.group import Group, join, main_process
from ..inference.evaluation import evaluate
from ..io.atomic import write_text
from ..io.weights import save_model
from ..models import MLP
from ..training.defaults import resolve_label_smoothing, resolve_training, steps_per_epoch
from ..training.fit import fit
from ..training.interrupt import TrainingInterrupted
from ..training.seeding import seed_everything
from .build import build_model, check_groups, resolve, run_loss, run_metrics
from .folder import HistoryFile, RunFolder, default_folder
from .report import finish_run
from .saved import model_metadata

log = logging.getLogger(__name__)

# A run builds its loss itself (``run_loss``: label smoothing, class weights, an auxiliary
# output), so these settings reach fit through the loss, not as keywords.
_LOSS_SETTINGS = ("label_smoothing", "class_weights")


@dataclass
class RunResult:
    run_dir: Path | None  # None on the ranks of a distributed run that do not write
    history: pd.DataFrame
    test_metrics: dict[str, float]
    model: MLP
    config: RunConfig
    preprocessing: list[tuple[str, str]] = field(default_factory=list)  # for the summary

    @property
    def step(self) -> str:
        return str(self.history.attrs.get("step_details", "autograd"))

    @property
    def training(self) -> list[tuple[str, str]]:
        """Summary lines: the preset, epochs run of planned, whose weights were kept, the label
        smoothing of a cross-entropy loss."""
        attrs, ran = self.history.attrs, len(self.history)
        epochs = f"{ran} of {attrs.get('epochs', ran)}"
        if attrs.get("stopped"):
            epochs += ", stopped early"  # the reason is in the log and in run.json
        lines = [("preset", self.config.preset), ("epochs", epochs)]
        kept = attrs.get("kept_epoch")
        if kept is not None:
            best = f"best {self.config.train.monitor or 'val_loss'}" if kept != ran else "the last"
            lines.append(("weights kept", f"epoch {kept} ({best})"))
        if self.config.optim.loss == "cross_entropy":
            lines.append(("label smoothing", f"{self.config.optim.label_smoothing or 0:g}"))
        if attrs.get("members", 1) > 1:
            lines.append(("ensemble", member_summary(attrs)))
        return lines


def train_run(
    config: RunConfig,
    callbacks: Iterable[Callback] = (),
    resume_from: dict[str, Any] | None = None,
    run_dir: Path | None = None,
) -> RunResult:
    """Train as ``config`` says and write the run folder (``resume_from`` and the folder
    ``run_dir`` it was read from: see ``resume_run``).

    >>> result = train_run(RunConfig())  # doctest: +SKIP
    >>> result.test_metrics["accuracy"]
    """
    check_groups(config)
    files = [config.data.name, config.data.val, config.data.test]
    group = join(config.train.dist_timeout)  # a data-parallel run: only rank 0 writes
    config = _processes(config, group, resume_from)
    if resume_from is not None:
        check_unchanged(resume_from.get("data_files"), files)
    seed_everything(config.train.seed)
    prepared = prepare_data(config)
    config = left_to_the_data(resolve(config, prepared.source), prepared)
    model = build_model(config, prepared)
    loss = run_loss(config, prepared.y_train)
    metrics = run_metrics(config, prepared.target_scaler)
    if group is not None and not group.main:  # another rank trains its part; rank 0 writes
        history = _fit(config, model, loss, metrics, prepared, None, callbacks, resume_from)
        return RunResult(None, history, {}, model, config)
    if run_dir is None:
        target = default_folder(prepared.source.name) if config.out is None else Path(config.out)
        folder = RunFolder(target, overwrite=config.overwrite)
    else:  # a resumed run writes where it was stopped (a replacement's staging folder too)
        folder = RunFolder(Path(resume_from.get("replaces") or run_dir), path=run_dir)
    config.out = str(folder.target)
    # Made before the folder is: without the tensorboard package, nothing is written.
    board = [TensorBoard.for_run(folder.path)] if config.tensorboard else []
    with folder:
        run_dir = folder.path
        # Written first, so that a run stopped part-way can be resumed or rerun from its folder.
        write_text(run_dir / "config.toml", config.to_toml())
        extra = {
            "config": config.model_dump(mode="json"),
            "architecture": model.arguments(),
            "data_files": data_files(files),
        }
        if folder.replacing:
            extra["replaces"] = str(folder.target)
        checkpoint = Checkpoint.from_settings(run_dir / "checkpoints", config.train, extra=extra)
        callbacks = [HistoryFile(run_dir), *board, *callbacks]
        try:
            history = _fit(
                config, model, loss, metrics, prepared, checkpoint, callbacks, resume_from
            )
        except TrainingInterrupted as stop:
            stop.run_dir = run_dir
            raise
        # The threads that trained fastest evaluate too (on a busy machine, fewer than torch's).
        with cpu_threads(history.attrs.get("threads")):
            test_metrics: dict[str, float] = {}
            if prepared.test is not None:
                test_metrics = evaluate(model, prepared.test, metrics, loss=loss)
            write_text(run_dir / "history.csv", history.to_csv(index=False))
            write_text(run_dir / "metrics.json", json.dumps(test_metrics, indent=2))
            save_model(run_dir, model, model_metadata(config, prepared, loss))
            finish_run(run_dir, config, prepared, model, history, test_metrics)  # run.json, report
        folder.commit()
    summary = preprocessing_summary(prepared)
    return RunResult(folder.target, history, test_metrics, model, config, summary)


def member_summary(attrs: dict[str, Any]) -> str:
    """``8 members, own batch orders; alone val_loss 0.31-0.35``."""
    text = f"{attrs['members']} members"
    if "member_batches" in attrs:
        text += f", {attrs['member_batches']} batch orders"
    scores = attrs.get("member_scores")
    if scores:
        losses = [s["val_loss"] for s in scores]
        text += f"; alone val_loss {min(losses):.4g}-{max(losses):.4g}"
    return text


def _processes(config: RunConfig, group: Group | None, resume_from: dict[str, Any] | None):
    """The config with the processes that train it (torchrun's, where it started them); a
    resume on another number of processes says what that changes."""
    processes = 1 if group is None else group.world_size
    if config.nproc != processes:
        config = config.model_copy(update={"nproc": processes})
    before = int((resume_from or {}).get("config", {}).get("nproc", processes))
    if before != processes and main_process():
        log.warning(
            "the checkpoint was written by a run of %d processes and this one has %d: the "
            "global batch and the batch order stay the same, so the run goes on as it would "
            "have, but equal to an uninterrupted run only up to rounding, not bit for bit",
            before,
            processes,
        )
    return config


def left_to_the_data(config: RunConfig, prepared) -> RunConfig:
    """Epochs, early stopping and label smoothing decided as ``fit`` decides them, so that
    ``config.toml`` says what ran (and a resume plans the same epochs)."""
    resolved = config.model_copy(deep=True)
    train = config.train
    steps = steps_per_epoch(len(prepared.y_train), train.batch_size, train.drop_last)
    resolved.train = resolve_training(train, steps, has_validation=prepared.val is not None)
    if config.optim.loss == "cross_entropy":
        resolved.optim.label_smoothing = resolve_label_smoothing(config.optim, resolved.train)
    return resolved


def _fit(config, model, loss, metrics, prepared, checkpoint, callbacks, resume_from):
    settings = {
        name: getattr(getattr(config, setting.section), name)
        for name, setting in FIT_SETTINGS.items()
        if name not in _LOSS_SETTINGS
    }
    return fit(
        model,
        loss,
        prepared.train,
        prepared.val,
        checkpoint=checkpoint,
        callbacks=callbacks,
        resume_from=resume_from,
        **{**settings, "metrics": metrics},
    )
