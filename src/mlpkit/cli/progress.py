"""The progress bars ``mlpkit train`` shows: epochs with their metrics, and the current epoch's
steps with the running training loss."""

from __future__ import annotations

import time
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..callbacks.base import Callback, TrainingState
from .console import console


class ProgressBar(Callback):
    """A bar over the epochs with each finished epoch's losses and metrics, and below it, while
    an epoch runs, a bar over its steps with the running training loss.

    The step bar is redrawn at most every ``refresh`` seconds: reading the running loss waits
    for the device, which the loop otherwise does once per epoch.
    """

    writes = True

    def __init__(self, refresh: float = 0.25) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description:>5}"),
            MofNCompleteColumn(),
            BarColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[metrics]}"),
            console=console,
            transient=False,
        )
        self.refresh = refresh
        self.task: Any = None
        self.steps: Any = None
        self._shown_at = 0.0

    def on_fit_start(self, state: TrainingState) -> None:
        self.progress.start()
        self.task = self.progress.add_task(
            "epoch", total=state.epochs, completed=state.epoch, metrics=""
        )
        self.steps = self.progress.add_task(
            "step", total=state.steps_per_epoch, metrics="", visible=False
        )

    def on_epoch_start(self, state: TrainingState) -> None:
        self.progress.reset(self.steps, total=state.steps_per_epoch, metrics="")
        self._shown_at = time.monotonic()

    def on_batch_end(self, state: TrainingState) -> None:
        now = time.monotonic()
        if now - self._shown_at < self.refresh:
            return
        self._shown_at = now
        loss = state.running_loss()
        shown = "" if loss is None else f"train_loss={loss:.4f}"
        self.progress.update(self.steps, completed=state.step, metrics=shown, visible=True)

    def on_epoch_end(self, state: TrainingState) -> None:
        # The losses and validation metrics: what tells whether training goes well.
        shown = "  ".join(
            f"{k}={v:.4f}"
            for k, v in state.row.items()
            if (k.endswith("loss") or k.startswith("val_")) and isinstance(v, float)
        )
        self.progress.update(self.task, completed=state.epoch, metrics=shown)
        self.progress.update(self.steps, visible=False)

    def on_fit_end(self, state: TrainingState) -> None:
        self.stop()

    def stop(self) -> None:
        """End the bar's display; nothing is printed if it never started."""
        if self.progress.live.is_started:
            if self.steps is not None:
                self.progress.update(self.steps, visible=False)
            self.progress.stop()
