"""The best configuration trained again on training + validation data, for as many epochs as the
best trial took to reach its best value, and tested: an ordinary run folder, which
``mlpkit evaluate``, ``predict`` and ``export`` take as any other."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..callbacks.base import Callback
from ..config import RunConfig
from ..errors import ConfigError
from .results import best_trial
from .study import StudySpec

RETRAINED = "retrained"


def retrain_config(best: Any, spec: StudySpec, out: str | Path | None = None) -> RunConfig:
    """The best trial's resolved config, on train + validation data (a separate validation
    file stays the validation data), for the best trial's best epoch count."""
    config = RunConfig.model_validate(best.user_attrs["config"])
    config.out = str(out or Path(spec.study_dir) / RETRAINED)
    config.train.epochs = int(best.user_attrs.get("best_epoch") or config.train.epochs)
    if "overwrite" in type(config).model_fields:
        config.overwrite = True  # a retrain replaces the last one, once it has finished
    if config.data.val is None:
        config.data.val_fraction = 0.0  # the test part stays the one the trials never saw
        config.train.early_stopping = None  # nothing to stop on: the epochs are chosen
        if (config.train.monitor or "").startswith("val_"):
            config.train.monitor = None
    return config


def retrain_best(
    study: Any, spec: StudySpec, out: str | Path | None = None, callbacks: Iterable[Callback] = ()
):
    """Train the best trial's configuration again (see ``retrain_config``); a ``RunResult``.

    >>> result = retrain_best(study, spec)  # doctest: +SKIP
    >>> result.run_dir, result.test_metrics
    """
    from ..runs.train import train_run

    best = best_trial(study)
    if best is None:
        raise ConfigError(
            "no trial has completed yet, so there is nothing to retrain; run more trials "
            "(mlpkit tune --resume --trials N)"
        )
    return train_run(retrain_config(best, spec, out), callbacks=callbacks)
