"""Early stopping: end training when the monitored metric stops improving."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .callbacks import Callback, StopTraining
from .errors import ConfigError
from .monitor import Monitor

if TYPE_CHECKING:
    from .trainer import Trainer

log = logging.getLogger(__name__)


class EarlyStopping(Callback):
    """Stop after ``patience`` epochs without an improvement of ``monitor`` by more than
    ``min_delta``; with ``restore_best``, the model ends with the weights of its best epoch.

    Its state (best value and epoch, epochs waited, best weights) is in the checkpoint, so a
    resumed run stops where the uninterrupted run would have.

    >>> history = fit(model, "mse", (X, y), (X_val, y_val), epochs=200,
    ...               callbacks=[EarlyStopping(patience=10)])  # doctest: +SKIP
    """

    order = 50  # before the checkpoint, which saves this epoch's state

    def __init__(
        self,
        patience: int,
        monitor: str | None = None,
        mode: str = "auto",
        min_delta: float = 0.0,
        restore_best: bool = True,
    ) -> None:
        if not isinstance(patience, int) or patience < 1:
            raise ConfigError(f"patience must be a whole number of epochs >= 1, got {patience!r}")
        self.patience = patience
        self.monitor = Monitor(monitor, mode, min_delta)
        self.restore_best = restore_best
        self.best_: float | None = None
        self.best_epoch_: int | None = None
        self.wait_ = 0
        self.best_weights_: dict[str, Any] | None = None

    def setup(self, trainer: Trainer) -> None:
        self.monitor.resolve(trainer)

    def on_epoch_start(self, trainer: Trainer) -> None:
        if self.wait_ >= self.patience:  # resumed from the checkpoint of the stopping epoch
            raise StopTraining(self._reason())

    def on_epoch_end(self, trainer: Trainer) -> None:
        value = self.monitor.value(trainer.row)
        if self.monitor.improved(value, self.best_):
            self.best_, self.best_epoch_, self.wait_ = value, trainer.epoch, 0
            if self.restore_best:
                self.best_weights_ = {
                    k: v.detach().clone() for k, v in trainer.model.state_dict().items()
                }
            return
        self.wait_ += 1
        if self.wait_ >= self.patience:
            raise StopTraining(self._reason())

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.restore_best and self.best_weights_ is not None:
            trainer.model.load_state_dict(self.best_weights_)
            log.info("restored the weights of epoch %s (%s)", self.best_epoch_, self.monitor.name)

    def _reason(self) -> str:
        return (
            f"{self.monitor.name} did not improve for {self.patience} epochs "
            f"(best {self.best_:.6g} at epoch {self.best_epoch_})"
            if self.best_ is not None
            else f"{self.monitor.name} was never finite in {self.patience} epochs"
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor.name,
            "best": self.best_,
            "best_epoch": self.best_epoch_,
            "wait": self.wait_,
            "best_weights": self.best_weights_,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["monitor"] != self.monitor.name:
            raise ConfigError(
                f"the checkpoint's early stopping watched {state['monitor']}, not "
                f"{self.monitor.name}; resume with the same monitored metric"
            )
        self.best_, self.best_epoch_ = state["best"], state["best_epoch"]
        self.wait_ = int(state["wait"])
        self.best_weights_ = state["best_weights"]
