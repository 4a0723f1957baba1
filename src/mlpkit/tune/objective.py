"""One trial: settings drawn from the space over the base config, an ordinary run of them with
the pruning callback, and the best value of the monitored column as the trial's value."""

from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path
from typing import Any

from ..callbacks.base import Callback, TrainingState
from ..config import merge
from ..errors import MlpkitError
from ..training.interrupt import TrainingInterrupted
from .pruning import TrialPruning
from .storage import worker_id
from .study import StudySpec

log = logging.getLogger(__name__)

# What ends one trial, not the study: bad values or combinations, a NaN loss, out of memory
# (torch raises RuntimeError subclasses), numeric trouble.
TRIAL_ERRORS = (MlpkitError, RuntimeError, ValueError, ArithmeticError, MemoryError)


class TrialFailed(Exception):
    """A trial failed for a reason it records (``fail_reason``); the study goes on."""


class Stop:
    """A signal (SIGINT, SIGTERM) received outside a trial's training loop (which handles its
    own): no new trial starts, and a trial still being set up stops when its loop begins."""

    signum: int | None = None

    def __call__(self, signum: int) -> None:
        self.signum = signum


class StopIfSignalled(Callback):
    """Ends training as it starts if a signal came while the trial was being set up: the loop
    catches signals only from then on."""

    def __init__(self, stop: Stop) -> None:
        self.stop = stop

    def on_fit_start(self, state: TrainingState) -> None:
        if self.stop.signum is not None:
            raise TrainingInterrupted(self.stop.signum, state.epoch)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    text = text[0] if text else ""
    return text if isinstance(exc, MlpkitError) else f"{type(exc).__name__}: {text}"


def best_of(values: list[float], direction: str) -> tuple[float, int]:
    """The best value of a history column and its epoch (1-based); NaN never wins."""
    finite = [(v, i) for i, v in enumerate(values, start=1) if math.isfinite(v)]
    if not finite:
        return math.nan, len(values)
    pick = max if direction == "maximize" else min
    value, epoch = pick(finite, key=lambda pair: pair[0])  # ties: the earliest epoch
    return value, epoch


class Objective:
    """Called by Optuna with each trial; trains in ``<study>/trials/NNNN``.

    ``threads`` caps each trial's CPU threads (workers share the machine); ``stop`` is set by
    a signal that came between trials.
    """

    def __init__(self, spec: StudySpec, threads: int | None = None, stop: Stop | None = None):
        self.spec = spec
        self.base = spec.base
        self.space = spec.search_space
        self.threads = threads
        self.stop = stop or Stop()

    def __call__(self, trial: Any) -> float:
        import optuna

        trial.set_user_attr("worker", worker_id())
        if self.stop.signum is not None:
            reason = "interrupted before it started"
            trial.set_user_attr("fail_reason", reason)
            raise TrialFailed(reason)
        params = self.space.suggest(trial)
        pruning = TrialPruning(trial, self.spec.metric)
        run_dir = Path(self.spec.study_dir) / "trials" / f"{trial.number:04d}"
        try:
            config = merge(self.base, params)
            config.out = str(run_dir)
            if "report" in type(config).model_fields:
                config.report = False  # a trial's page would cost more than its training
            if self.threads is not None and config.train.threads is None:
                config.train.threads = self.threads
            result = self._train(config, pruning)
        except TrainingInterrupted as stop:
            when = "before training" if not stop.epoch else f"after {stop.epoch} epochs"
            trial.set_user_attr("fail_reason", f"interrupted by {stop.signal_name} {when}")
            raise
        except TRIAL_ERRORS as exc:
            reason = one_line(exc)
            trial.set_user_attr("fail_reason", reason)
            raise TrialFailed(reason) from None
        finally:
            # The run folder stays (history, model); its checkpoints are only for resuming,
            # which a trial never does.
            shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
        history = result.history
        values = [float(v) for v in history[self.spec.metric]]
        value, epoch = best_of(values, self.spec.direction)
        # The config kept is the one to retrain: without what only a trial sets.
        resolved = result.config.model_copy(deep=True)
        resolved.train.threads = self.base.train.threads
        if "report" in type(resolved).model_fields:
            resolved.report = self.base.report
        trial.set_user_attr("epochs", len(history))
        trial.set_user_attr("best_epoch", epoch)
        trial.set_user_attr("config", resolved.model_dump(mode="json", exclude_none=True))
        if pruning.pruned_at is not None:
            raise optuna.TrialPruned(f"pruned after epoch {pruning.pruned_at}")
        if not math.isfinite(value):
            reason = f"{self.spec.metric} was never a finite number"
            trial.set_user_attr("fail_reason", reason)
            raise TrialFailed(reason)
        return value

    def _train(self, config, pruning):
        from ..runs.train import train_run

        return train_run(config, callbacks=[StopIfSignalled(self.stop), pruning])
