"""Learning-rate schedulers by name, run by the ``LRScheduler`` callback (``mlpkit.callbacks``).

A factory takes the optimizer, the run's number of epochs and of steps per epoch, and its own
options (ignoring the others, so one set of settings serves every scheduler), and returns a
``Schedule``: the torch scheduler, whether it steps after every batch or every epoch, and the
number of epochs it was planned for if its shape depends on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
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


def coslog4(t: float) -> float:
    """RealMLP's learning-rate shape over training progress ``t`` in [0, 1]: four cosine
    cycles, each twice as long as the one before (from 0 up to 1 and back).

    >>> [round(coslog4(t), 3) for t in (0.0, 0.5, 1.0)]
    [0.0, 0.854, 0.0]
    """
    return 0.5 * (1.0 - math.cos(2 * math.pi * math.log2(1.0 + 15.0 * t)))


def flat_cos(t: float) -> float:
    """Flat for the first half of training, then half a cosine down to 0.

    >>> [round(flat_cos(t), 3) for t in (0.25, 0.75, 1.0)]
    [1.0, 0.5, 0.0]
    """
    return 1.0 if t <= 0.5 else 0.5 * (1.0 + math.cos(math.pi * (2.0 * t - 1.0)))


def _per_step(shape: Callable[[float], float]):
    def factory(optimizer, *, epochs: int, steps_per_epoch: int, **_ignored) -> Schedule:
        total = max(epochs * steps_per_epoch, 1)
        scheduler = lr_scheduler.LambdaLR(optimizer, lambda step: shape(min(step / total, 1.0)))
        return Schedule(scheduler, per_batch=True, horizon=epochs)

    factory.__doc__ = f"The learning rate times ``{shape.__name__}`` of the training progress."
    return factory


SCHEDULERS.add("coslog4", _per_step(coslog4))
SCHEDULERS.add("flat_cos", _per_step(flat_cos))


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
