"""Callbacks around the one training loop: history, checkpoints, early stopping, schedules."""

from .base import Callback, History, LogEpochs, StopTraining, TrainingState

__all__ = ["Callback", "History", "LogEpochs", "StopTraining", "TrainingState"]
