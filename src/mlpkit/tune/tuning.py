"""A whole tuning session: start or resume a study, run its trials, write its results and plots,
and optionally retrain the best configuration. ``mlpkit tune`` is this, with a table at the end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..callbacks.base import Callback
from ..config import RunConfig
from .options import TuneConfig
from .plots import write_plots
from .results import StudySummary, write_results
from .retrain import retrain_best
from .run import StudyInterrupted, StudyRun, run_study
from .study import StudySpec, create_study, default_study_dir, load_spec, new_spec, open_study


@dataclass
class TuneResult:
    spec: StudySpec
    run: StudyRun
    summary: StudySummary
    files: dict[str, Path]
    plots: list[Path] = field(default_factory=list)
    retrained: Any = None  # a RunResult with --retrain


def start_study(
    config: RunConfig,
    options: TuneConfig,
    study_dir: str | Path | None = None,
    fixed: Iterable[str] = (),
) -> StudySpec:
    """Check and create a new study of ``config`` (every trial's starting point) in
    ``study_dir`` (default ``studies/<data name>``); ``fixed``: settings the user set, which
    the default search space then leaves alone.

    >>> spec = start_study(RunConfig(), TuneConfig(trials=20))  # doctest: +SKIP
    """
    folder = Path(study_dir) if study_dir is not None else default_study_dir(config)
    base = config.model_copy(deep=True)
    base.out = None  # each trial trains in <study>/trials/NNNN
    spec = new_spec(base, options, folder, set(fixed))
    create_study(spec)
    return spec


def resume_study(study_dir: str | Path, options: TuneConfig) -> StudySpec:
    """The spec of the study in ``study_dir`` (or ``options.storage``), to run more trials
    (``options.parallel_trials`` at a time: how this start runs them, not what it tunes)."""
    spec = load_spec(Path(study_dir), options.storage, options.study_name, options.heartbeat)
    return dataclasses.replace(spec, parallel_trials=options.parallel_trials)


def tune_study(
    spec: StudySpec,
    options: TuneConfig,
    *,
    retrain: bool = False,
    on_trial: Callable[[Any], None] | None = None,
    callbacks: Iterable[Callback] = (),
) -> TuneResult:
    """Run the study up to ``options.trials`` trials, then write ``trials.csv``, ``best.json``
    and the plots; with ``retrain``, train the best configuration on train + validation data
    into ``<study>/retrained`` (``callbacks`` go to that run). Interrupted (SIGINT / SIGTERM),
    the results so far are written before ``StudyInterrupted`` is raised.
    """
    try:
        run = run_study(
            spec,
            options.trials,
            workers=options.workers,
            timeout=options.timeout,
            stale_after=options.stale_after,
            on_trial=on_trial,
        )
    except StudyInterrupted:
        write_results(open_study(spec), spec)
        raise
    study = open_study(spec)
    files = write_results(study, spec)
    plots = write_plots(study, spec) if options.plots else []
    result = TuneResult(spec, run, StudySummary.of(study, spec), files, plots)
    if retrain:
        result.retrained = retrain_best(study, spec, callbacks=callbacks)
    return result
