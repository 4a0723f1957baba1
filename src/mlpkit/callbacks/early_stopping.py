"""Early stopping: end training when the monitored metric stops improving."""

from __future__ import annotations

import logging
from typing import Any

from ..errors import ConfigError
from .base import Callback, StopTraining, TrainingState
from .monitor import Monitor

log = logging.getLogger(__name__)


class EarlyStopping(Callback):
    """Stop after ``patience`` epochs without an improvement of ``monitor`` by more than
    ``min_delta``; with ``restore_best``, the model ends with the weights of its best epoch.

    ``patience=None`` never stops: it only keeps the best epoch's weights for the end (what
    ``fit`` does by default with validation data). Its state (best value and epoch, epochs
    waited, best weights) is in the checkpoint, so a resumed run stops where the uninterrupted
    run would have.

    >>> history = fit(model, "mse", (X, y), (X_val, y_val), epochs=200,
    ...               callbacks=[EarlyStopping(patience=10)])  # doctest: +SKIP
    """

    order = 50  # before the checkpoint, which saves this epoch's state

    def __init__(
        self,
        patience: int | None,
        monitor: str | None = None,
        mode: str = "auto",
        min_delta: float = 0.0,
        restore_best: bool = True,
    ) -> None:
        if patience is not None and (not isinstance(patience, int) or patience < 1):
            raise ConfigError(
                f"patience must be a whole number of epochs >= 1, got {patience!r} "
                "(None: never stop, only keep the best epoch's weights)"
            )
        self.patience = patience
        self.monitor = Monitor(monitor, mode, min_delta)
        self.restore_best = restore_best
        self.wait_ = 0
        self.best_weights_: dict[str, Any] | None = None

    @property
    def best_(self) -> float | None:
        return self.monitor.best

    @property
    def best_epoch_(self) -> int | None:
        return self.monitor.best_epoch

    def setup(self, state: TrainingState) -> None:
        self.monitor.resolve(state)

    def on_epoch_start(self, state: TrainingState) -> None:
        if self._waited_enough():  # resumed from the checkpoint of the stopping epoch
            raise StopTraining(self._reason())

    def on_epoch_end(self, state: TrainingState) -> None:
        if self.monitor.update(state.row) and self.restore_best:
            self.best_weights_ = {
                k: v.detach().clone() for k, v in state.model.state_dict().items()
            }
        if self.monitor.progressed:
            self.wait_ = 0
            return
        self.wait_ += 1
        if self._waited_enough():
            raise StopTraining(self._reason())

    def on_fit_end(self, state: TrainingState) -> None:
        if self.restore_best and self.best_weights_ is not None:
            state.model.load_state_dict(self.best_weights_)
            state.kept_epoch = self.best_epoch_
            log.info("restored the weights of epoch %s (%s)", self.best_epoch_, self.monitor.name)

    def _waited_enough(self) -> bool:
        return self.patience is not None and self.wait_ >= self.patience

    def _reason(self) -> str:
        return (
            f"{self.monitor.name} did not improve for {self.patience} epochs "
            f"(best {self.best_:.6g} at epoch {self.best_epoch_})"
            if self.best_ is not None
            else f"{self.monitor.name} was never finite in {self.patience} epochs"
        )

    def state_dict(self) -> dict[str, Any]:
        return {**self.monitor.state_dict(), "wait": self.wait_, "best_weights": self.best_weights_}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.monitor.load_state_dict(state)
        self.wait_ = int(state["wait"])
        self.best_weights_ = state["best_weights"]
