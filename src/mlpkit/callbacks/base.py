"""Callbacks: everything optional around the one training loop, and the state they may read.

A callback reacts to the loop's events and owns its state; ``state_dict`` / ``load_state_dict``
put that state in the checkpoint so that a resumed run carries on exactly. Every event receives
the run's ``TrainingState``: the loop's progress and the objects it trains, nothing private.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn
from torch.optim import Optimizer

log = logging.getLogger(__name__)


class StopTraining(Exception):
    """Raised by a callback to end training after the current epoch (early stopping, pruning).

    Raised from ``on_epoch_end``, it still lets the other callbacks see the epoch (so the
    checkpoint of that epoch is written) before training ends.
    """


@dataclass(eq=False)
class TrainingState:
    """What a callback sees of a run: the loop keeps it up to date before each event.

    - ``model``, ``optimizer``: what is trained (a scheduler steps the optimizer);
    - ``epochs``: the epochs planned in all; ``epoch``: the epochs completed;
    - ``steps_per_epoch``; ``step``: the steps completed in the current epoch;
    - ``row``: the last finished epoch's history row (``epoch``, losses, metrics);
    - ``history``: every finished epoch's row so far, resumed runs' earlier epochs included;
    - ``columns``: the history's loss and metric columns, known before training (for monitors);
    - ``has_validation``: whether validation data was given;
    - ``signal``: SIGINT / SIGTERM received during training (None before);
    - ``checkpoint_path``: the last checkpoint a callback wrote (what a resume starts from);
    - ``kept_epoch``: the epoch whose weights a callback put back at the end (the best one),
      None while the model holds the last epoch's;
    - ``running_loss()``: the mean training loss of the epoch so far (None before its first
      step); it waits for the device, so call it a few times a second, not after every step;
    - ``snapshot()``: everything a resume needs, for a callback that writes checkpoints.
    """

    model: nn.Module
    optimizer: Optimizer
    epochs: int
    steps_per_epoch: int
    columns: list[str]
    has_validation: bool
    running_loss: Callable[[], float | None]
    snapshot: Callable[[], dict[str, Any]]
    epoch: int = 0
    step: int = 0
    row: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    signal: int | None = None
    checkpoint_path: Path | None = None
    kept_epoch: int | None = None


class Callback:
    """Base class: override the events you need. ``order`` sorts callbacks (lower runs first).

    >>> class PrintLoss(Callback):
    ...     def on_epoch_end(self, state):
    ...         print(state.epoch, state.row["train_loss"])
    """

    order = 0
    # Whether it writes files or to the terminal: in a data-parallel run only rank 0 calls it.
    writes = False

    def setup(self, state: TrainingState) -> None:
        """Once, when the trainer is built and before a checkpoint is loaded into it: build what
        depends on the optimizer or the data (a scheduler) here, so that a resume restores it."""

    def on_fit_start(self, state: TrainingState) -> None: ...

    def on_epoch_start(self, state: TrainingState) -> None: ...

    def on_batch_end(self, state: TrainingState) -> None:
        """After each training step. Only callbacks that override it are called; keep it cheap
        (no ``.item()``, no reading of tensors: the loop never waits for the device)."""

    def on_epoch_end(self, state: TrainingState) -> None: ...

    def on_interrupt(self, state: TrainingState) -> None:
        """SIGINT / SIGTERM stopped training in the middle of an epoch, after a step."""

    def on_fit_end(self, state: TrainingState) -> None: ...

    def teardown(self, state: TrainingState) -> None:
        """Once at the very end of ``fit``, also when an error or a signal ended it: finish
        what is still running (a checkpoint being written)."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    @property
    def state_key(self) -> str:
        """Where this callback's state lives in a checkpoint."""
        return type(self).__name__


class History(Callback):
    """Records one row per epoch; ``fit`` returns them as a DataFrame."""

    order = -100  # first, so later callbacks see the epoch's row in the history

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def on_epoch_end(self, state: TrainingState) -> None:
        self.rows.append(dict(state.row))

    def state_dict(self) -> dict[str, Any]:
        return {"rows": [dict(r) for r in self.rows]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows[:] = [dict(r) for r in state["rows"]]  # in place: the state shares the list

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows)


class LogEpochs(Callback):
    """Logs each epoch's row at INFO level (the CLI shows a progress bar instead)."""

    writes = True

    def on_epoch_end(self, state: TrainingState) -> None:
        shown = ", ".join(
            f"{k}={v:.4g}" for k, v in state.row.items() if k != "epoch" and isinstance(v, float)
        )
        log.info("epoch %d/%d: %s", state.epoch, state.epochs, shown)
