"""The one training loop: fit, epoch, train or validate, batch.

Everything optional (history, checkpoints, early stopping, progress, schedulers, pruning) is a
callback. The step that updates the model on one batch is chosen once per run: the fused fast
path for mlpkit's own MLPs where it supports the model, loss and optimizer, else autograd.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import SequentialSampler

from .batching import LoaderBatches, TensorBatcher, leaves, make_batches, rows_of
from .callbacks import Callback, History, StopTraining
from .checkpoint import Checkpoint, load_checkpoint
from .devices import cpu_threads, resolve_device
from .errors import CheckpointError, ConfigError, DataError, TrainingError
from .evaluation import EVAL_BATCH_SIZE, infer
from .interrupt import TrainingInterrupted, catch_signals
from .losses import resolve_loss
from .metrics import Metric, compute_all, get_metrics, primary
from .optim import make_optimizer
from .precision import fall_back_to_fp32, resolve_precision
from .seeding import (
    deterministic_algorithms,
    random_states,
    restore_random_states,
    seed_everything,
)
from .step import call_model, choose_step, describe_step, recommended_threads
from .step_timing import bf16_step_problem

log = logging.getLogger(__name__)


class Trainer:
    """Runs the loop; ``fit`` is the function most users call."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable,
        optimizer: torch.optim.Optimizer,
        train_batches: TensorBatcher | LoaderBatches,
        val_batches: TensorBatcher | LoaderBatches | None,
        *,
        epochs: int,
        metrics: Sequence[Metric],
        device: torch.device,
        callbacks: Iterable[Callback] = (),
        step: str = "auto",
        clip_grad_norm: float | None = None,
        skip_nonfinite: bool = False,
        autocast_dtype: torch.dtype | None = None,
        compile: bool = False,
        threads: int | None = None,
    ) -> None:
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.train_batches = train_batches
        self.val_batches = val_batches
        self.epochs = epochs
        self.metrics = list(metrics)
        self.device = device
        self.skip_nonfinite = skip_nonfinite
        self.history = History()
        self.callbacks = sorted([self.history, *callbacks], key=lambda c: c.order)
        self.step = choose_step(
            model,
            loss_fn,
            optimizer,
            step,
            clip_grad_norm,
            skip_nonfinite,
            autocast_dtype=autocast_dtype,
            compile=compile,
        )
        self.threads = threads if threads is not None else self._recommended_threads()
        self.epoch = 0  # epochs completed
        self.batch = 0  # steps completed in the current epoch
        self.total_time = 0.0
        self.row: dict[str, Any] = {}
        self.stop_reason: str | None = None
        self.signal: int | None = None  # SIGINT / SIGTERM received during fit
        self._progress: EpochProgress | None = None  # while an epoch's steps run
        self._resume_progress: dict[str, Any] | None = None  # an epoch to finish, from a checkpoint
        # Only the callbacks that use the per-step event are called after each step.
        self._batch_callbacks = [
            c for c in self.callbacks if type(c).on_batch_end is not Callback.on_batch_end
        ]
        self._fire("setup")

    # -- the loop ------------------------------------------------------------------------------
    def fit(self):
        """Train up to ``epochs``; on SIGINT / SIGTERM raise ``TrainingInterrupted`` (see
        ``mlpkit.interrupt``) after the current step."""
        with catch_signals(self._request_stop), cpu_threads(self.threads):
            self._fire("on_fit_start")
            try:
                while self.epoch < self.epochs:
                    self._stop_if_interrupted()
                    self._epoch()
            except StopTraining as stop:
                self.stop_reason = str(stop) or "stopped by a callback"
                log.info("training stopped after epoch %d: %s", self.epoch, self.stop_reason)
            self._fire("on_fit_end")
        frame = self.history.frame()
        frame.attrs.update(
            step=self.step.name,
            step_details=describe_step(self.step),
            device=str(self.device),
            threads=self.threads,
            stopped=self.stop_reason,
        )
        return frame

    def _recommended_threads(self) -> int | None:
        return recommended_threads(self.step, self.device, self.train_batches)

    def _epoch(self) -> None:
        self._fire("on_epoch_start")
        train = self._train()
        self._check_finite_weights()
        val = self._validate() if self.val_batches is not None else {}
        self.epoch += 1
        # Column order: epoch, total_time, losses, then train and validation metrics.
        losses = {k: v for k, v in {**train, **val}.items() if k.endswith("_loss")}
        self.row = {"epoch": self.epoch, "total_time": self.total_time, **losses}
        self.row.update({k: v for k, v in {**train, **val}.items() if k not in losses})
        self._fire("on_epoch_end")

    def _train(self) -> dict[str, float]:
        self.model.train()
        generator = getattr(self.train_batches, "generator", None)
        progress = EpochProgress(
            # Per-step losses stay on the device and are read once, after the epoch.
            losses=torch.zeros(len(self.train_batches), device=self.device),
            order=None if generator is None else generator.get_state(),
        )
        if self._resume_progress is not None:  # an epoch a signal stopped part-way
            progress.restore(self._resume_progress, self.device)
            self._resume_progress = None
        self._progress = progress
        outputs, targets, step_losses, sizes = (
            progress.outputs, progress.targets, progress.losses, progress.sizes,
        )  # fmt: skip
        self.batch = len(sizes)
        for index, (inputs, target) in enumerate(
            self.train_batches.batches(self.batch), start=self.batch
        ):
            loss, out = self.step.train_batch(inputs, target)
            step_losses[index] = loss
            sizes.append(len(primary(target)))
            if self.metrics:
                outputs.append(primary(out))
                targets.append(primary(target))
            self.batch = index + 1
            for callback in self._batch_callbacks:
                callback.on_batch_end(self)
            self._stop_if_interrupted()
        self._progress = None
        losses = step_losses.cpu()
        self.total_time += progress.seconds()
        finite = torch.isfinite(losses)
        if not bool(finite.all()):
            bad_step = int((~finite).nonzero()[0]) + 1
            if not self.skip_nonfinite:
                raise TrainingError(
                    f"the loss became {losses[bad_step - 1].item()} at epoch {self.epoch + 1}, "
                    f"step {bad_step}; lower the learning rate, scale the inputs, clip "
                    "gradients or skip such batches (--skip-nonfinite); the last checkpoint "
                    "holds the last good weights"
                )
            if not bool(finite.any()):
                raise TrainingError(
                    f"every batch of epoch {self.epoch + 1} had a non-finite loss or gradients "
                    "and was skipped; lower the learning rate or scale the inputs"
                )
        weights = torch.tensor(sizes, dtype=losses.dtype)
        row: dict[str, Any] = {
            "train_loss": float((losses * weights)[finite].sum() / weights[finite].sum())
        }
        if self.skip_nonfinite:
            row["skipped_batches"] = int((~finite).sum())
            if row["skipped_batches"]:
                log.warning(
                    "skipped %d batches with a non-finite loss or gradients in epoch %d",
                    row["skipped_batches"],
                    self.epoch + 1,
                )
        if self.metrics:
            scores = compute_all(self.metrics, torch.cat(outputs), torch.cat(targets))
            row.update({f"train_{k}": v for k, v in scores.items()})
        return row

    def running_loss(self) -> float | None:
        """The mean training loss of the epoch so far (None before its first step).

        It reads the losses from the device, so a progress display calls it a few times a
        second, not after every step.
        """
        if not self.batch or self._progress is None:
            return None
        losses = self._progress.losses[: self.batch].cpu().double()
        sizes = torch.tensor(self._progress.sizes[: self.batch], dtype=torch.float64)
        finite = torch.isfinite(losses)
        if not bool(finite.any()):
            return float("nan")
        return float((losses * sizes)[finite].sum() / sizes[finite].sum())

    def _validate(self) -> dict[str, float]:
        loss, outputs, targets = infer(self.model, self.val_batches, self.loss_fn)
        row = {"val_loss": loss}
        scores = compute_all(self.metrics, primary(outputs), primary(targets))
        row.update({f"val_{k}": v for k, v in scores.items()})
        return row

    def _check_finite_weights(self) -> None:
        # A step can overflow the weights with a finite loss; one check per epoch keeps such
        # weights out of the checkpoint.
        tensors = [t for t in self.model.state_dict().values() if torch.is_floating_point(t)]
        if tensors and not bool(torch.stack([t.isfinite().all() for t in tensors]).all()):
            raise TrainingError(
                f"the weights became NaN or infinite in epoch {self.epoch + 1}; lower the "
                "learning rate or clip gradients (--clip-grad-norm); the last checkpoint holds "
                "the last good weights"
            )

    def _fire(self, event: str) -> None:
        # A callback stopping training does not keep the others from seeing the event: the
        # checkpoint of the last epoch is still written.
        stop = None
        for callback in self.callbacks:
            try:
                getattr(callback, event)(self)
            except StopTraining as exc:
                stop = stop or exc
        if stop is not None:
            raise stop

    def _request_stop(self, signum: int) -> None:
        self.signal = signum

    def _stop_if_interrupted(self) -> None:
        if self.signal is None:
            return
        step = None
        if self._progress is not None and self._order_can_be_replayed():
            step = self.batch  # mid-epoch: callbacks save the point reached
            self._fire("on_interrupt")
        checkpoints = [c.last_path for c in self.callbacks if isinstance(c, Checkpoint)]
        raise TrainingInterrupted(
            self.signal, self.epoch, next(iter(checkpoints), None), step, len(self.train_batches)
        )

    def _order_can_be_replayed(self) -> bool:
        """Whether a resume can draw this epoch's batch order again: from a generator saved at
        the epoch's start (mlpkit's batchers), or because the order is fixed. A DataLoader
        shuffling from torch's global random state cannot: its epoch then restarts."""
        if self._progress is not None and self._progress.order is not None:
            return True
        loader = getattr(self.train_batches, "loader", None)
        return loader is None or isinstance(loader.sampler, SequentialSampler)

    def columns(self) -> list[str]:
        """The history's loss and metric columns, known before training (for monitors)."""
        parts = ["train"] if self.val_batches is None else ["train", "val"]
        names = ["loss", *(m.name for m in self.metrics)]
        return [f"{part}_{name}" for part in parts for name in names]

    # -- checkpoint state ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything a resume needs; in the middle of an epoch (a signal stopped it) also the
        epoch's progress, and the batch order as it was when the epoch began."""
        generator = getattr(self.train_batches, "generator", None)
        progress = self._progress if self._order_can_be_replayed() else None
        order = None if generator is None else generator.get_state()
        if progress is not None:
            order = progress.order
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "total_time": self.total_time,
            "random": random_states(),
            "batch_order": order,
            "epoch_progress": None if progress is None else progress.state_dict(),
            "callbacks": {c.state_key: c.state_dict() for c in self.callbacks},
            "versions": _versions(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        load_model_state(self.model, state["model"], source="the checkpoint")
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch = int(state["epoch"])
        self.total_time = float(state["total_time"])
        restore_random_states(state["random"])
        generator = getattr(self.train_batches, "generator", None)
        if generator is not None and state.get("batch_order") is not None:
            generator.set_state(state["batch_order"])
        self._resume_progress = state.get("epoch_progress")
        if self._resume_progress is not None and self._resume_progress["steps"] != len(
            self.train_batches
        ):
            raise CheckpointError(
                f"the checkpoint stopped in an epoch of {self._resume_progress['steps']} steps, "
                f"this data gives {len(self.train_batches)}; resume with the same data and "
                "batch size"
            )
        saved = state.get("callbacks", {})
        for callback in self.callbacks:
            if callback.state_key in saved:
                callback.load_state_dict(saved[callback.state_key])


@dataclass
class EpochProgress:
    """An epoch's training so far: per-step losses (on the device), batch sizes, the outputs
    and targets kept for metrics, the loop's seconds, and the batch order's state at its start."""

    losses: torch.Tensor
    order: torch.Tensor | None
    sizes: list[int] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)
    targets: list[Any] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def state_dict(self) -> dict[str, Any]:
        done = len(self.sizes)
        return {
            "steps": len(self.losses),
            "losses": self.losses[:done].cpu(),
            "sizes": list(self.sizes),
            "outputs": torch.cat(self.outputs).cpu() if self.outputs else None,
            "targets": torch.cat(self.targets).cpu() if self.targets else None,
            "seconds": self.seconds(),
        }

    def restore(self, state: dict[str, Any], device: torch.device) -> None:
        done = len(state["sizes"])
        self.losses[:done] = state["losses"].to(device)
        self.sizes.extend(int(n) for n in state["sizes"])
        if state["outputs"] is not None:
            self.outputs.append(state["outputs"].to(device))
            self.targets.append(state["targets"].to(device))
        self.started -= float(state["seconds"])


def load_model_state(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load weights, or list every missing, unexpected and mis-shaped parameter."""
    own = model.state_dict()
    problems = [f"missing {k}" for k in own if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in own]
    problems += [
        f"{k} is {tuple(state[k].shape)} but the model has {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if problems:
        raise CheckpointError(
            f"{source} does not match the model's architecture: {'; '.join(problems)}; "
            "build the model with the settings it was saved with"
        )
    model.load_state_dict(state)


def _versions() -> dict[str, str]:
    from . import __version__

    # str(): torch.__version__ is a str subclass, which a weights_only load refuses.
    return {"mlpkit": __version__, "torch": str(torch.__version__)}


def _probe_shape(model: nn.Module, batch_size: int) -> tuple[int, int, int]:
    """A matrix product typical of one step of ``model``: its largest linear layer's."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        return (batch_size, 256, 256)
    largest = max(linears, key=lambda m: m.weight.numel())
    return (batch_size, largest.in_features, largest.out_features)


def _check_model_fits_data(model: nn.Module, batches) -> None:
    """Run one sample through the model so that shape and label errors say what is wrong."""
    if not isinstance(batches, TensorBatcher):
        return
    inputs = rows_of(batches.inputs, slice(0, 1))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = primary(call_model(model, inputs))
    except RuntimeError as exc:
        widths = [tuple(t.shape[1:]) for t in leaves(inputs)]
        raise DataError(
            f"the model cannot take inputs of shape {widths} ({str(exc).splitlines()[0]}); "
            "give the model as many input features as the data has"
        ) from None
    finally:
        model.train(was_training)
    labels = primary(batches.targets)
    if not torch.is_floating_point(labels) and out.ndim == 2 and out.shape[1] > 1:
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= out.shape[1]:
            raise DataError(
                f"labels must be in [0, {out.shape[1]}) for a model with {out.shape[1]} outputs, "
                f"found {low}..{high}; give the model one output per class"
            )


def fit(
    model: nn.Module,
    loss: Any,
    train: Any,
    val: Any = None,
    *,
    epochs: int = 10,
    batch_size: int = 32,
    optimizer: str | Callable = "sgd",
    lr: float | None = None,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    metrics: Sequence[str | Callable] | str = (),
    device: str | torch.device = "auto",
    seed: int = 0,
    checkpoint: str | Path | Checkpoint | None = None,
    callbacks: Iterable[Callback] = (),
    loss_weights: Any = None,
    resume_from: str | Path | dict[str, Any] | None = None,
    step: str = "auto",
    clip_grad_norm: float | None = None,
    skip_nonfinite: bool = False,
    drop_last: bool = False,
    num_workers: int = 0,
    deterministic: bool = False,
    persistent_workers: bool | None = None,
    precision: str = "fp32",
    compile: bool = False,
    threads: int | None = None,
):
    """Train ``model`` and return the history: a DataFrame with one row per epoch.

    Columns: ``epoch``, ``total_time`` (training seconds so far), ``train_loss``, ``val_loss``
    and ``train_<metric>`` / ``val_<metric>`` for each metric. ``train`` and ``val`` are
    ``(X, y)`` arrays or tensors, a ``Dataset`` or a ``DataLoader``; ``X`` may be a tuple or a
    dict of inputs, ``y`` a tuple or dict of targets (give ``loss`` as a list or dict then,
    with ``loss_weights``). ``df.attrs["step"]`` says whether the fused or autograd step ran.
    A ``Dataset`` streams through a ``DataLoader`` with ``num_workers`` worker processes, kept
    alive across epochs unless ``persistent_workers=False``; ``drop_last`` drops a last,
    smaller training batch.

    ``checkpoint`` is a folder (or a ``Checkpoint``): ``last.pt`` is written there after every
    epoch. ``resume_from`` (a checkpoint file, a folder, or a loaded checkpoint) continues that
    run up to ``epochs`` in total, exactly as if it had not stopped, given the same arguments.
    ``deterministic`` makes torch use deterministic algorithms only. SIGINT / SIGTERM stop
    training after the current step with ``TrainingInterrupted``.

    ``precision="bf16"`` trains under bf16 autocast where its steps run faster than the fp32
    steps would (timed on the first batch, on copies of the model; else it warns once and
    trains in fp32); ``compile=True`` trains through ``torch.compile`` (falling
    back to the eager model, with a warning, if compiling fails). Both use the autograd step.
    ``threads`` sets torch's CPU thread count during training; by default the fused step picks
    one for the size of its matrix products, and the autograd step keeps torch's setting.

    >>> model = mlpkit.MLP(4, [16], 3)  # doctest: +SKIP
    >>> history = mlpkit.fit(model, "cross_entropy", (X, y), epochs=5, lr=0.1, metrics=["accuracy"])
    """
    if epochs < 0:
        raise ConfigError(f"epochs must be >= 0, got {epochs}")
    device = resolve_device(device)
    seed_everything(seed)
    # The optimizer is built after the move, so that its state lives on the same device.
    model.to(device)
    loss_fn = resolve_loss(loss, loss_weights)
    if isinstance(loss_fn, nn.Module):
        loss_fn.to(device)
    opt = make_optimizer(
        optimizer, model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay
    )
    train_batches = make_batches(
        train,
        batch_size,
        shuffle=True,
        device=device,
        seed=seed,
        drop_last=drop_last,
        num_workers=num_workers,
        persistent_workers=persistent_workers,
    )
    val_batches = None
    if val is not None:
        val_size = max(batch_size, EVAL_BATCH_SIZE)
        val_batches = make_batches(
            val,
            val_size,
            shuffle=False,
            device=device,
            num_workers=num_workers,
            persistent_workers=persistent_workers,
        )
    _check_model_fits_data(model, train_batches)
    autocast_dtype = resolve_precision(precision, device, _probe_shape(model, batch_size))
    if autocast_dtype is not None and not compile:
        problem = bf16_step_problem(
            model,
            loss_fn,
            opt,
            train_batches,
            device,
            step=step,
            clip_grad_norm=clip_grad_norm,
            skip_nonfinite=skip_nonfinite,
            threads=threads,
        )
        if problem is not None:
            fall_back_to_fp32(device, problem)
            autocast_dtype = None
    callbacks = list(callbacks)
    if checkpoint is not None:
        callbacks.append(
            checkpoint if isinstance(checkpoint, Checkpoint) else Checkpoint(checkpoint)
        )
    trainer = Trainer(
        model,
        loss_fn,
        opt,
        train_batches,
        val_batches,
        epochs=epochs,
        metrics=get_metrics(metrics),
        device=device,
        callbacks=callbacks,
        step=step,
        clip_grad_norm=clip_grad_norm,
        skip_nonfinite=skip_nonfinite,
        autocast_dtype=autocast_dtype,
        compile=compile,
        threads=threads,
    )
    if resume_from is not None:
        state = resume_from
        if not isinstance(state, dict):
            # On the CPU: random states must stay there; load_state_dict moves the rest.
            state = load_checkpoint(resume_from, map_location="cpu")
        trainer.load_state_dict(state)
        if trainer.epoch > epochs:
            raise ConfigError(
                f"the checkpoint has {trainer.epoch} epochs done; ask for epochs >= {trainer.epoch}"
            )
        log.info("resumed after epoch %d", trainer.epoch)
    with deterministic_algorithms(deterministic):
        return trainer.fit()
