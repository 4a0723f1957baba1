"""Pruning as a callback of the one training loop: report each epoch's value, stop when told."""

from __future__ import annotations

import math
from typing import Any

from ..callbacks.base import Callback, StopTraining, TrainingState
from ..errors import ConfigError


class TrialPruning(Callback):
    """Reports the monitored history column to an Optuna trial after every epoch, and ends
    training (``StopTraining``, so that the epoch's checkpoint and history are still written)
    when the study's pruner says the trial will not beat the others.

    ``pruned_at`` is then the last epoch trained; the objective turns that into a pruned trial.

    >>> pruning = TrialPruning(trial, "val_accuracy")  # doctest: +SKIP
    >>> fit(model, "cross_entropy", train, val, metrics=["accuracy"], callbacks=[pruning])
    """

    order = 10  # after History and the controls, before the checkpoint sees the epoch

    def __init__(self, trial: Any, metric: str) -> None:
        self.trial = trial
        self.metric = metric
        self.pruned_at: int | None = None

    def on_fit_start(self, state: TrainingState) -> None:
        if self.metric not in state.columns:
            raise ConfigError(
                f"cannot tune on {self.metric!r}: the trials' history has "
                f"{', '.join(state.columns)}; give --metric one of them (or add the metric "
                "with --metrics)"
            )

    def on_epoch_end(self, state: TrainingState) -> None:
        value = float(state.row[self.metric])
        if math.isfinite(value):  # a pruner cannot compare NaN; the loop stops on a NaN loss
            self.trial.report(value, state.epoch)
        if self.trial.should_prune():
            self.pruned_at = state.epoch
            raise StopTraining(f"pruned after epoch {state.epoch}")
