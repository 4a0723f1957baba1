"""Hyperparameter tuning with Optuna (``pip install 'mlpkit[tune]'``): a search space over the
declared run settings, trials that are ordinary runs pruned through a callback of the one
training loop, studies in a journal file or a database shared by many workers.

>>> from mlpkit.config import RunConfig  # doctest: +SKIP
>>> spec = start_study(RunConfig(), TuneConfig(trials=20))
>>> result = tune_study(spec, TuneConfig(trials=20), retrain=True)
>>> result.summary.best["value"], result.retrained.test_metrics

The names below are imported on first use (``mlpkit tune --help`` needs no torch), and Optuna
only where a study is opened.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "options": ["TuneConfig"],
    "pruning": ["TrialPruning"],
    "retrain": ["retrain_best"],
    "run": ["StudyInterrupted", "StudyRun", "run_study"],
    "space": ["SearchSpace", "default_space"],
    "study": ["StudySpec"],
    "tuning": ["TuneResult", "resume_study", "start_study", "tune_study"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'mlpkit.tune' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
