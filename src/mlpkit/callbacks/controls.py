"""The callbacks that settings ask for: learning-rate and regularization schedules, early
stopping."""

from __future__ import annotations

from ..config import OptimConfig, TrainConfig
from .base import Callback
from .early_stopping import EarlyStopping
from .learning_rate import LearningRateLog
from .lr_scheduler import LRScheduler
from .regularization import RegularizationSchedule


def training_controls(
    optim: OptimConfig, train: TrainConfig, has_validation: bool = False
) -> list[Callback]:
    """The scheduler and early stopping that ``optim`` and ``train`` ask for, as callbacks.

    ``train.early_stopping`` is a patience (0 or None: never stop early); with validation data
    (or early stopping), ``restore_best`` ends the run with the best epoch's weights, through
    the same callback.

    >>> controls = training_controls(OptimConfig(scheduler="cosine"), TrainConfig(early_stopping=5))
    >>> [type(c).__name__ for c in controls]
    ['LearningRateLog', 'LRScheduler', 'EarlyStopping']
    """
    controls: list[Callback] = []
    if optim.scheduler is not None:
        controls.append(LearningRateLog())  # the history's lr column
        controls.append(
            LRScheduler(
                optim.scheduler,
                monitor=train.monitor,
                mode=train.monitor_mode,
                step_size=optim.step_size,
                gamma=optim.gamma,
                max_lr=optim.max_lr,
                min_lr=optim.min_lr,
                patience=optim.scheduler_patience,
            )
        )
    if optim.regularization_schedule != "constant":
        controls.append(RegularizationSchedule(optim.regularization_schedule))
    patience = train.early_stopping or None
    if patience is not None or (train.restore_best and has_validation):
        controls.append(
            EarlyStopping(
                patience,
                monitor=train.monitor,
                mode=train.monitor_mode,
                min_delta=train.min_delta,
                restore_best=train.restore_best,
            )
        )
    return controls
