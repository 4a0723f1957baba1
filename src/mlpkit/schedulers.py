"""Learning-rate schedulers by name, run by the ``LRScheduler`` callback (``mlpkit.callbacks``).

A factory takes the optimizer, the run's number of epochs and of steps per epoch, and its own
options (ignoring the others, so one set of settings serves every scheduler), and returns a
``Schedule``: the torch scheduler, whether it steps after every batch or every epoch, and the
number of epochs it was planned for if its shape depends on it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from torch.optim import lr_scheduler

from .errors import ConfigError
from .registry import Registry


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
