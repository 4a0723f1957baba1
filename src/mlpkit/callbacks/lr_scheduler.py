"""The ``LRScheduler`` callback: runs a learning-rate schedule from ``mlpkit.schedulers``."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from torch.optim import lr_scheduler

from ..errors import ConfigError
from ..schedulers import SCHEDULERS, Schedule
from .base import Callback, TrainingState
from .monitor import Monitor


class LRScheduler(Callback):
    """Runs a scheduler from ``SCHEDULERS`` (by name) or a factory returning a ``Schedule``.

    Per-epoch schedulers step after each epoch, per-batch ones (``onecycle``) after each step;
    ``plateau`` steps on ``monitor`` (default ``val_loss``). The scheduler is built when the trainer
    is, before a checkpoint is loaded, and its state is in the checkpoint, so a resumed run follows
    the same schedule.

    >>> step_decay = LRScheduler("step", step_size=10, gamma=0.5)
    >>> fit(model, "mse", (X, y), epochs=30, callbacks=[step_decay])  # doctest: +SKIP
    """

    order = 10  # before the checkpoint, which saves the stepped state

    def __init__(
        self,
        scheduler: str | Callable[..., Schedule],
        *,
        monitor: str | None = None,
        mode: str = "auto",
        **options: Any,
    ) -> None:
        self.name = scheduler if isinstance(scheduler, str) else getattr(scheduler, "__name__", "")
        self.factory = SCHEDULERS.get(scheduler) if isinstance(scheduler, str) else scheduler
        self.monitor = Monitor(monitor, mode)
        self.options = options
        self.schedule: Schedule | None = None

    @property
    def scheduler(self) -> Any:
        return None if self.schedule is None else self.schedule.scheduler

    def setup(self, state: TrainingState) -> None:
        self.monitor.resolve(state)
        self.schedule = self.factory(
            state.optimizer,
            epochs=state.epochs,
            steps_per_epoch=state.steps_per_epoch,
            mode=self.monitor.mode,
            **self.options,
        )

    def on_batch_end(self, state: TrainingState) -> None:
        if self.schedule is not None and self.schedule.per_batch:
            self._step()

    def on_epoch_end(self, state: TrainingState) -> None:
        if self.schedule is None or self.schedule.per_batch:
            return
        if isinstance(self.schedule.scheduler, lr_scheduler.ReduceLROnPlateau):
            self.schedule.scheduler.step(self.monitor.value(state.row))
        else:
            self._step()

    def _step(self) -> None:
        # The fused training step updates the weights without optimizer.step(), which torch
        # would take for a scheduler stepped before the optimizer.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step", UserWarning)
            self.schedule.scheduler.step()  # type: ignore[union-attr]

    def state_dict(self) -> dict[str, Any]:
        assert self.schedule is not None, "state_dict before setup"
        return {"scheduler": self.schedule.scheduler.state_dict(), "horizon": self.schedule.horizon}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        assert self.schedule is not None, "load_state_dict before setup"
        if state.get("horizon") != self.schedule.horizon:
            raise ConfigError(
                f"the {self.name} schedule in the checkpoint spans {state.get('horizon')} epochs "
                f"and cannot be stretched to {self.schedule.horizon}; resume with "
                f"--epochs {state.get('horizon')}, or start a new run"
            )
        self.schedule.scheduler.load_state_dict(state["scheduler"])
