"""The one training loop: fit, epoch, train or validate, batch.

Everything optional (history, checkpoints, early stopping, progress, schedulers, pruning) is a
callback, which sees the run through a ``TrainingState``; the loop knows no concrete callback.
The step that updates the model on one batch is chosen once per run: the fused fast path for
mlpkit's own MLPs where it supports the model, loss and optimizer, else autograd.
"""

from __future__ import annotations

import logging
import math
import signal
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import SequentialSampler

from ..callbacks.base import Callback, History, StopTraining, TrainingState
from ..data.batching import LoaderBatches, TensorBatcher
from ..devices import cpu_threads
from ..distributed.group import Group
from ..distributed.step import DataParallelStep
from ..errors import CheckpointError, TrainingError
from ..inference.evaluation import infer
from ..io.checkpoint_checks import load_optimizer_state
from ..io.checkpoint_file import versions
from ..io.weights import load_model_state
from ..metrics import Metric, compute_all
from ..nested import primary
from .epoch_progress import EpochProgress
from .interrupt import TrainingInterrupted, catch_signals
from .seeding import random_states, restore_random_states
from .step import choose_step, describe_step, recommended_threads
from .threads import ThreadChooser, threads_used

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
        adaptive_threads: bool = True,
        group: Group | None = None,
    ) -> None:
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.train_batches = train_batches
        self.val_batches = val_batches
        self.metrics = list(metrics)
        self.device = device
        self.skip_nonfinite = skip_nonfinite
        self.history = History()
        # In a data-parallel run only rank 0 calls the callbacks that write (files, terminal).
        self.group = group
        if group is not None and not group.main:
            callbacks = [c for c in callbacks if not c.writes]
        self.callbacks = sorted([self.history, *callbacks], key=lambda c: c.order)
        self._signal_here: int | None = None  # a signal this rank got, before the ranks agree
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
        if group is not None:  # every rank its part of each batch, the gradients summed
            rows, stop = (lambda: train_batches.batch_rows), (lambda: self._signal_here is not None)
            self.step = DataParallelStep(self.step, group, global_rows=rows, stop_wanted=stop)
        self.threads = threads
        if threads is None:
            self.threads = recommended_threads(self.step, self.device, self.train_batches)
        # Threads the user did not set follow the measured speed of the steps (threads.py),
        # unless results must repeat bit for bit: another count rounds sums differently.
        chooser = None
        if threads is None and adaptive_threads and device.type == "cpu" and group is None:
            chooser = ThreadChooser(self.threads or torch.get_num_threads())
        self.thread_chooser = chooser if chooser is not None and chooser.adapts else None
        self.state = TrainingState(
            model=model,
            optimizer=optimizer,
            epochs=epochs,
            steps_per_epoch=len(train_batches),
            columns=self._columns(),
            has_validation=val_batches is not None,
            running_loss=self._running_loss,
            snapshot=self.state_dict,
            history=self.history.rows,
        )
        self.total_time = 0.0
        self.stop_reason: str | None = None
        self._progress: EpochProgress | None = None  # while an epoch's steps run
        self._resume_progress: dict[str, Any] | None = None  # an epoch to finish, from a checkpoint
        # Only the callbacks that use the per-step event are called after each step.
        self._batch_callbacks = [
            c for c in self.callbacks if type(c).on_batch_end is not Callback.on_batch_end
        ]
        self._fire("setup")

    @property
    def epoch(self) -> int:
        """Epochs completed."""
        return self.state.epoch

    # -- the loop ------------------------------------------------------------------------------
    def fit(self):
        """Train up to ``epochs``; on SIGINT / SIGTERM raise ``TrainingInterrupted`` (see
        ``mlpkit.training.interrupt``) after the current step."""
        chooser = self.thread_chooser
        threads = self.threads if chooser is None else chooser.threads
        with catch_signals(self._request_stop), cpu_threads(threads):
            try:
                self._fire("on_fit_start")
                try:
                    while self.state.epoch < self.state.epochs:
                        self._stop_if_interrupted()
                        self._epoch()
                except StopTraining as stop:
                    self.stop_reason = str(stop) or "stopped by a callback"
                    log.info("training stopped after epoch %d: %s", self.epoch, self.stop_reason)
                self._fire("on_fit_end")
            except BaseException:
                self._teardown(quiet=True)  # the error that ended training is the one raised
                raise
            self._teardown(quiet=False)
        frame = self.history.frame()
        frame.attrs.update(
            step=self.step.name,
            step_details=describe_step(self.step),
            device=str(self.device),
            stopped=self.stop_reason,
            epochs=self.state.epochs,
            kept_epoch=self.state.kept_epoch or self.epoch,
            processes=1 if self.group is None else self.group.world_size,
            **threads_used(self.thread_chooser, self.threads),
        )
        return frame

    def _epoch(self) -> None:
        resumed = self._resume_progress  # an epoch a signal stopped part-way, to finish
        self.state.step = 0 if resumed is None else len(resumed["sizes"])
        self._fire("on_epoch_start")
        train = self._train()
        self._check_finite_weights()
        val = self._validate() if self.val_batches is not None else {}
        if self.group is not None:  # a rank that died or hangs is named here
            self.group.barrier(f"finishing epoch {self.state.epoch + 1}")
        self.state.epoch += 1
        # Column order: epoch, total_time, losses, then train and validation metrics.
        losses = {k: v for k, v in {**train, **val}.items() if k.endswith("_loss")}
        row = {"epoch": self.state.epoch, "total_time": self.total_time, **losses}
        row.update({k: v for k, v in {**train, **val}.items() if k not in losses})
        self.state.row = row
        self._fire("on_epoch_end")

    def _train(self) -> dict[str, float]:
        self.model.train()
        set_epoch = getattr(self.train_batches, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(self.state.epoch)
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
        state = self.state
        state.step = len(sizes)
        chooser = self.thread_chooser
        if chooser is not None:
            chooser.start_clock()
        for index, (inputs, target) in enumerate(
            self.train_batches.batches(state.step), start=state.step
        ):
            loss, out = self.step.train_batch(inputs, target)
            step_losses[index] = loss
            sizes.append(len(primary(target)))
            if chooser is not None:
                chooser.step_done(sizes[-1])
            if self.metrics:
                outputs.append(primary(out))
                targets.append(primary(target))
            state.step = index + 1
            if self.group is not None and self.step.stop_voted and state.signal is None:
                state.signal = self._signal_here or signal.SIGTERM  # another rank's signal
            for callback in self._batch_callbacks:
                callback.on_batch_end(state)
            self._stop_if_interrupted()
        self._progress = None
        losses = step_losses.cpu()
        self.total_time += progress.seconds()
        return {**self._train_loss(losses, sizes), **self._scores("train", outputs, targets)}

    def _train_loss(self, losses: torch.Tensor, sizes: list[int]) -> dict[str, Any]:
        """The epoch's mean loss, weighted by batch size; a non-finite one ends training unless
        such batches are skipped (``skip_nonfinite``), which the row then counts."""
        epoch = self.state.epoch + 1
        if self.group is not None:
            return self._train_loss_of_ranks(losses, sizes, epoch)
        finite = torch.isfinite(losses)
        if not bool(finite.all()):
            bad_step = int((~finite).nonzero()[0]) + 1
            if not self.skip_nonfinite:
                raise TrainingError(
                    f"the loss became {losses[bad_step - 1].item()} at epoch {epoch}, "
                    f"step {bad_step}; lower the learning rate, scale the inputs, clip "
                    "gradients or skip such batches (skip_nonfinite=True; in mlpkit train "
                    "--skip-nonfinite); the last checkpoint holds the last good weights"
                )
            if not bool(finite.any()):
                raise TrainingError(
                    f"every batch of epoch {epoch} had a non-finite loss or gradients "
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
                    epoch,
                )
        return row

    def _train_loss_of_ranks(
        self, losses: torch.Tensor, sizes: list[int], epoch: int
    ) -> dict[str, Any]:
        """The epoch's mean loss over every rank's rows."""
        weights = torch.tensor(sizes, dtype=losses.dtype)
        loss = self.group.mean((losses * weights).sum().item(), sum(sizes))  # type: ignore
        if not math.isfinite(loss):
            raise TrainingError(
                f"the loss became {loss} in epoch {epoch} on at least one rank; lower the "
                "learning rate, scale the inputs or clip gradients; the last checkpoint holds "
                "the last good weights"
            )
        return {"train_loss": loss}

    def _scores(self, part: str, outputs: list[Any], targets: list[Any]) -> dict[str, float]:
        if not outputs:  # training outputs are only kept when there are metrics
            return {}
        outputs, targets = torch.cat(outputs), torch.cat(targets)
        if self.group is not None:  # metrics over every rank's rows
            outputs, targets = self.group.gather_rows(outputs), self.group.gather_rows(targets)
        scores = compute_all(self.metrics, outputs, targets)
        return {f"{part}_{k}": v for k, v in scores.items()}

    def _running_loss(self) -> float | None:
        return None if self._progress is None else self._progress.running_loss()

    def _validate(self) -> dict[str, float]:
        loss, outputs, targets = infer(self.model, self.val_batches, self.loss_fn)
        if self.group is not None:  # the loss over every rank's rows
            rows = len(primary(targets))
            loss = self.group.mean(loss * rows if rows else 0.0, rows)
        return {"val_loss": loss, **self._scores("val", [primary(outputs)], [primary(targets)])}

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
                getattr(callback, event)(self.state)
            except StopTraining as exc:
                stop = stop or exc
        if stop is not None:
            raise stop

    def _teardown(self, quiet: bool) -> None:
        errors = []
        for callback in self.callbacks:  # each one's, whatever the one before raised
            try:
                callback.teardown(self.state)
            except Exception as exc:
                errors.append(exc)
        if errors and not quiet:
            raise errors[0]

    def _request_stop(self, signum: int) -> None:
        if self.group is None:
            self.state.signal = signum
        else:  # every rank stops after the step in which the ranks learn of it
            self._signal_here = signum

    def _stop_if_interrupted(self) -> None:
        state = self.state
        if state.signal is None:
            return
        step = None
        if self._progress is not None and self._order_can_be_replayed():
            step = state.step  # mid-epoch: callbacks save the point reached
            self._fire("on_interrupt")
        raise TrainingInterrupted(
            state.signal, state.epoch, state.checkpoint_path, step, state.steps_per_epoch
        )

    def _order_can_be_replayed(self) -> bool:
        """Whether a resume can draw this epoch's batch order again: from a generator saved at
        the epoch's start (mlpkit's batchers), or because the order is fixed. A DataLoader
        shuffling from torch's global random state cannot: its epoch then restarts."""
        if self.group is not None:
            return False  # each rank holds only its part of the epoch's progress
        if self._progress is not None and self._progress.order is not None:
            return True
        loader = getattr(self.train_batches, "loader", None)
        return loader is None or isinstance(loader.sampler, SequentialSampler)

    def _columns(self) -> list[str]:
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
            "versions": versions(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        load_model_state(self.model, state["model"], source="the checkpoint")
        load_optimizer_state(self.optimizer, state["optimizer"], "the checkpoint")
        self.state.epoch = int(state["epoch"])
        self.total_time = float(state["total_time"])
        restore_random_states(state["random"])
        generator = getattr(self.train_batches, "generator", None)
        if generator is not None and state.get("batch_order") is not None:
            generator.set_state(state["batch_order"])
        self._resume_progress = state.get("epoch_progress")
        steps = self.state.steps_per_epoch
        if self._resume_progress is not None and self._resume_progress["steps"] != steps:
            raise CheckpointError(
                f"the checkpoint stopped in an epoch of {self._resume_progress['steps']} steps, "
                f"this data gives {steps}; resume with the same data and batch size"
            )
        saved = state.get("callbacks", {})
        for callback in self.callbacks:
            if callback.state_key in saved:
                callback.load_state_dict(saved[callback.state_key])
