"""Learning-rate schedulers by name, run by the ``LRScheduler`` callback.

A factory takes the optimizer, the run's number of epochs and of steps per epoch, and its own
options (ignoring the others, so one set of settings serves every scheduler), and returns a
``Schedule``: the torch scheduler, whether it steps after every batch or every epoch, and the
number of epochs it was planned for if its shape depends on it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from torch.optim import lr_scheduler

from .callbacks import Callback
from .errors import ConfigError
from .monitor import Monitor
from .registry import Registry

if TYPE_CHECKING:
    from .trainer import Trainer


class Schedule(NamedTuple):
    scheduler: Any  # an LRScheduler, or ReduceLROnPlateau (which steps on a metric)
    per_batch: bool = False
    horizon: int | None = None  # the epochs the schedule spans, if its shape depends on them


SCHEDULERS: Registry[Schedule] = Registry("scheduler")


@SCHEDULERS.register("step")
def _step(optimizer, *, step_size: int = 10, gamma: float = 0.1, **_ignored) -> Schedule:
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs."""
    _check(step_size >= 1, f"step_size must be >= 1 epoch, got {step_size}")
    _check(gamma > 0, f"gamma must be > 0, got {gamma}")
    return Schedule(lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma))


@SCHEDULERS.register("cosine")
def _cosine(optimizer, *, epochs: int, min_lr: float = 0.0, **_ignored) -> Schedule:
    """Half a cosine from the optimizer's learning rate down to ``min_lr`` over the run."""
    _check(min_lr >= 0, f"min_lr must be >= 0, got {min_lr}")
    cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1), eta_min=min_lr)
    return Schedule(cosine, horizon=epochs)


@SCHEDULERS.register("onecycle")
def _onecycle(
    optimizer, *, epochs: int, steps_per_epoch: int, max_lr: float | None = None, **_ignored
) -> Schedule:
    """Warm up to ``max_lr`` (default: the optimizer's learning rate), then anneal; per batch."""
    peak = max_lr if max_lr is not None else [g["lr"] for g in optimizer.param_groups]
    _check(max_lr is None or max_lr > 0, f"max_lr must be > 0, got {max_lr}")
    total = max(epochs * steps_per_epoch, 1)
    return Schedule(
        lr_scheduler.OneCycleLR(optimizer, max_lr=peak, total_steps=total),
        per_batch=True,
        horizon=epochs,
    )


@SCHEDULERS.register("plateau")
def _plateau(
    optimizer,
    *,
    mode: str = "min",
    gamma: float = 0.1,
    patience: int = 10,
    min_lr: float = 0.0,
    **_ignored,
) -> Schedule:
    """Multiply the learning rate by ``gamma`` after ``patience`` epochs without improvement."""
    _check(0 < gamma < 1, f"gamma must be in (0, 1) for plateau, got {gamma}")
    _check(patience >= 0, f"patience must be >= 0, got {patience}")
    plateau = lr_scheduler.ReduceLROnPlateau(
        optimizer, mode=mode, factor=gamma, patience=patience, min_lr=min_lr
    )
    return Schedule(plateau)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


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

    def setup(self, trainer: Trainer) -> None:
        self.monitor.resolve(trainer)
        self.schedule = self.factory(
            trainer.optimizer,
            epochs=trainer.epochs,
            steps_per_epoch=len(trainer.train_batches),
            mode=self.monitor.mode,
            **self.options,
        )

    def on_batch_end(self, trainer: Trainer) -> None:
        if self.schedule is not None and self.schedule.per_batch:
            self._step()

    def on_epoch_end(self, trainer: Trainer) -> None:
        if self.schedule is None or self.schedule.per_batch:
            return
        if isinstance(self.schedule.scheduler, lr_scheduler.ReduceLROnPlateau):
            self.schedule.scheduler.step(self.monitor.value(trainer.row))
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
