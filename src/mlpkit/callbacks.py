"""Callbacks: everything optional around the one training loop.

A callback reacts to the loop's events and owns its state; ``state_dict`` / ``load_state_dict``
put that state in the checkpoint so that a resumed run carries on exactly.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .trainer import Trainer

log = logging.getLogger(__name__)


class StopTraining(Exception):
    """Raised by a callback to end training after the current epoch (early stopping, pruning).

    Raised from ``on_epoch_end``, it still lets the other callbacks see the epoch (so the
    checkpoint of that epoch is written) before training ends.
    """


class Callback:
    """Base class: override the events you need. ``order`` sorts callbacks (lower runs first)."""

    order = 0

    def setup(self, trainer: Trainer) -> None:
        """Once, when the trainer is built and before a checkpoint is loaded into it: build what
        depends on the optimizer or the data (a scheduler) here, so that a resume restores it."""

    def on_fit_start(self, trainer: Trainer) -> None: ...

    def on_epoch_start(self, trainer: Trainer) -> None: ...

    def on_batch_end(self, trainer: Trainer) -> None:
        """After each training step. Only callbacks that override it are called; keep it cheap
        (no ``.item()``, no reading of tensors: the loop never waits for the device)."""

    def on_epoch_end(self, trainer: Trainer) -> None: ...

    def on_interrupt(self, trainer: Trainer) -> None:
        """SIGINT / SIGTERM stopped training in the middle of an epoch, after a step."""

    def on_fit_end(self, trainer: Trainer) -> None: ...

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

    def on_epoch_end(self, trainer: Trainer) -> None:
        self.rows.append(dict(trainer.row))

    def state_dict(self) -> dict[str, Any]:
        return {"rows": [dict(r) for r in self.rows]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = [dict(r) for r in state["rows"]]

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows)


class LogEpochs(Callback):
    """Logs each epoch's row at INFO level (the CLI shows a progress bar instead)."""

    def on_epoch_end(self, trainer: Trainer) -> None:
        shown = ", ".join(
            f"{k}={v:.4g}" for k, v in trainer.row.items() if k != "epoch" and isinstance(v, float)
        )
        log.info("epoch %d/%d: %s", trainer.epoch, trainer.epochs, shown)
