"""The estimators' parameters: the run settings that apply to a model fitted on given data,
taken from their declarations (``mlpkit.config.SETTINGS``), so that names, defaults and checks
are those of ``mlpkit train`` and ``mlpkit.fit``.

A new setting becomes a parameter of both estimators by itself; only the settings listed in
``LEFT_OUT`` (each for the reason given there) and the run's own settings are not.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..config import SETTINGS, RunConfig, Setting, validated

LEFT_OUT = {
    "data.name": "fit is given the data",
    "data.target": "fit is given the target",
    "data.features": "fit is given the feature columns",
    "data.task": "the estimator's class is the task",
    "data.test_fraction": "no test part is held out: score on data of your own",
    "data.val": "no files: fit is given the data",
    "data.test": "no files: fit is given the data",
    "data.groups": "input groups feed Wide & Deep, and the estimators are MLPs",
    "data.stream": "fit is given arrays in memory",
    "data.options": "options of built-in data sets",
    "model.architecture": "the estimators are MLPs",
    "model.aux_weight": "an auxiliary output is for Wide & Deep",
    "train.checkpoint_every": "checkpoint files are for runs; pickle an estimator instead",
    "train.keep_last": "checkpoint files are for runs; pickle an estimator instead",
    "train.num_workers": "arrays in memory need no DataLoader workers",
}
# And every setting of the run itself (run.out, ...): an estimator has no run folder.
LEFT_OUT_SECTIONS = {"run"}
REGRESSION_ONLY = {"data.scale_target"}


def estimator_settings(task: str) -> dict[str, Setting]:
    """The settings that are parameters of the classifier or the regressor, by name."""
    return {
        s.name: s
        for s in SETTINGS
        if s.path not in LEFT_OUT
        and s.section not in LEFT_OUT_SECTIONS
        and (task == "regression" or s.path not in REGRESSION_ONLY)
    }


def default(setting: Setting) -> Any:
    """A setting's default as a parameter default: lists become tuples (scikit-learn wants
    immutable defaults)."""
    value = setting.default
    return tuple(value) if isinstance(value, list) else value


def init_signature(settings: dict[str, Setting]) -> inspect.Signature:
    """``__init__(self, *, hidden=(256, 128), activation='relu', ...)``: what scikit-learn's
    ``get_params``, ``clone`` and ``repr`` read."""
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters += [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=default(s), annotation=s.annotation
        )
        for name, s in settings.items()
    ]
    return inspect.Signature(parameters)


def run_config(settings: dict[str, Setting], values: dict[str, Any]) -> RunConfig:
    """The parameters checked as settings: a ``ConfigError`` (a ``ValueError``) with the same
    message as ``mlpkit train`` gives for the same bad value."""
    sections: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        setting = settings[name]
        plain = list(value) if isinstance(value, tuple) else value
        sections.setdefault(setting.section, {})[name] = plain
    return validated(RunConfig, sections)
