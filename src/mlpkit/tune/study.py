"""A study: what it tunes (the base config, the space, the metric), its sampler and pruner, and
its creation in a storage, once, before any worker starts.

Everything a worker needs is a ``StudySpec``, kept in the study's user attributes (``mlpkit``):
a resumed study, or a worker on another machine, tunes exactly what the first start set up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..callbacks.monitor import infer_mode
from ..config import RunConfig
from ..errors import ConfigError, require
from ..io.atomic import write_text
from ..version import __version__
from .options import TuneConfig
from .space import SearchSpace, default_space
from .storage import open_storage, shown, study_exists

log = logging.getLogger(__name__)

# A worker's sampler seed: the study's seed, plus this times the worker's index, plus the
# trials the study held when the worker started (so a resumed study draws new points).
WORKER_SEED_STRIDE = 1000


@dataclass
class StudySpec:
    """What a study tunes and how; JSON-able, for the study's attributes and for workers."""

    study_dir: str
    storage: str | None
    study_name: str
    config: dict[str, Any]  # the base run config, every trial's starting point
    space: dict[str, Any]
    metric: str
    direction: str  # "maximize" or "minimize"
    pruner: str
    startup_trials: int
    heartbeat: int
    task: str
    # How this start runs its trials (``--parallel-trials``): not kept in the study.
    parallel_trials: int = 1

    @property
    def base(self) -> RunConfig:
        return RunConfig.model_validate(self.config)

    @property
    def search_space(self) -> SearchSpace:
        return SearchSpace.from_dict(self.space)

    def kept(self) -> dict[str, Any]:
        """What the study's attributes keep (where it lives is the caller's to say)."""
        found = dataclasses.asdict(self)
        for key in ("study_dir", "storage", "study_name", "parallel_trials"):
            found.pop(key)
        return found


def default_study_dir(config: RunConfig) -> Path:
    return Path("studies") / Path(config.data.name).stem


def first_metric(task: str, config: RunConfig) -> str:
    """The default metric: the validation metric the task's runs report first."""
    from ..metrics import get_metric
    from ..runs.build import DEFAULT_METRICS

    metrics = config.train.metrics or DEFAULT_METRICS[task]
    return f"val_{get_metric(metrics[0]).name}"


def _check_metric(metric: str, task: str, config: RunConfig) -> None:
    from ..metrics import get_metric
    from ..runs.build import DEFAULT_METRICS

    names = ["loss", *(get_metric(m).name for m in config.train.metrics or DEFAULT_METRICS[task])]
    columns = [f"{part}_{name}" for part in ("train", "val") for name in names]
    if metric not in columns:
        raise ConfigError(
            f"cannot tune on {metric!r}: the trials record {', '.join(columns)}; give --metric "
            "one of them (or add the metric to --metrics)"
        )


def new_spec(config: RunConfig, tune: TuneConfig, study_dir: Path, fixed: set[str]) -> StudySpec:
    """Check a new study's settings and space against the data, before anything is written.

    ``fixed``: the settings given as flags or config keys, left out of the default space (and
    refused in an explicit one).
    """
    from ..data.loading import load_data

    data = load_data(config.data)
    if config.data.val is None and config.data.val_fraction == 0:
        raise ConfigError(
            "tuning compares trials on validation data; keep val_fraction above 0 or give --val"
        )
    if tune.space:
        space = SearchSpace.from_dict(tune.space)
        both = sorted(set(space.names) & {_name(f) for f in fixed})
        if both:
            raise ConfigError(
                f"{both[0]} is both searched ([tune.space]) and set (a flag or config key); "
                "drop one of the two"
            )
    else:
        space = default_space(data.task, config, fixed)
    metric = tune.metric or first_metric(data.task, config)
    _check_metric(metric, data.task, config)
    mode = infer_mode(metric) if tune.direction == "auto" else tune.direction
    spec = StudySpec(
        study_dir=str(study_dir),
        storage=tune.storage,
        study_name=tune.study_name or study_dir.resolve().name,
        config=config.model_dump(mode="json", exclude_none=True),
        space=space.to_dict(),
        metric=metric,
        direction="maximize" if mode == "max" else "minimize",
        pruner=tune.pruner,
        startup_trials=tune.startup_trials,
        heartbeat=tune.heartbeat,
        task=data.task,
        parallel_trials=tune.parallel_trials,
    )
    if spec.parallel_trials > 1:  # refused before the study is created
        from .parallel import check_parallel

        check_parallel(spec, tune.workers)
    return spec


def _name(flag: str) -> str:
    from ..config import FLAT_KEYS

    return FLAT_KEYS[flag].name if flag in FLAT_KEYS else flag


def make_sampler(spec: StudySpec, seed_offset: int = 0) -> Any:
    """TPE, seeded; multivariate (one model of all parameters) and constant-liar (running
    trials count as bad results, so parallel workers spread out), as in Optuna 5's defaults."""
    optuna = require("optuna", "tune")
    return optuna.samplers.TPESampler(
        seed=spec.base.train.seed + seed_offset,
        n_startup_trials=spec.startup_trials,
        multivariate=True,
        constant_liar=True,
    )


def make_pruner(spec: StudySpec) -> Any:
    optuna = require("optuna", "tune")
    if spec.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=spec.startup_trials)
    if spec.pruner == "hyperband":
        # Epochs left to the data (None) are not known here: Optuna then takes the most epochs
        # a trial reports.
        epochs = spec.base.train.epochs
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs or "auto")
    return optuna.pruners.NopPruner()


def sampler_settings(spec: StudySpec) -> dict[str, Any]:
    """How the study samples and prunes, as ``study.json`` says."""
    parallel = {}
    if spec.parallel_trials > 1:
        from .parallel import PER_MEMBER

        parallel["parallel_trials"] = {
            "asked_at_once": spec.parallel_trials,
            "drawn": "the startup trials freely; then the first of each batch by the sampler, the "
            "others with its structural parameters fixed (enqueue_trial) and their own "
            + ", ".join(PER_MEMBER)
            + " drawn by the sampler (constant liar: the running trials count as bad results)",
            "trained": "trials of one structure as one stacked model, each member alone",
        }
    return {
        **parallel,
        "sampler": {
            "name": "TPESampler",
            "seed": spec.base.train.seed,
            "worker_seed": f"seed + {WORKER_SEED_STRIDE} * worker + trials at the worker's start",
            "n_startup_trials": spec.startup_trials,
            "multivariate": True,
            "constant_liar": True,
        },
        "pruner": {"name": spec.pruner, "n_startup_trials": spec.startup_trials}
        if spec.pruner == "median"
        else {"name": spec.pruner},
    }


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    """Optuna's own log lines (a study created, each trial) off: mlpkit reports them itself."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


def create_study(spec: StudySpec) -> Any:
    """Create the study in its storage (refused if it exists there) and write ``study.json``."""
    optuna = require("optuna", "tune")
    study_dir = Path(spec.study_dir)
    where = shown(spec.storage, study_dir)
    if study_exists(spec.storage, study_dir, spec.study_name, spec.heartbeat):
        raise ConfigError(
            f"the study {spec.study_name} exists already in {where}; continue it with --resume, "
            "or give another --out (or --study-name)"
        )
    study_dir.mkdir(parents=True, exist_ok=True)
    with quiet_optuna():
        study = optuna.create_study(
            storage=open_storage(spec.storage, study_dir, spec.heartbeat),
            study_name=spec.study_name,
            direction=spec.direction,
            sampler=make_sampler(spec),
            pruner=make_pruner(spec),
        )
    study.set_user_attr("mlpkit", spec.kept())
    study.set_user_attr("mlpkit_version", __version__)
    about = {
        "study_name": spec.study_name,
        "storage": where,
        "metric": spec.metric,
        "direction": spec.direction,
        **sampler_settings(spec),
        "space": spec.space,
        "versions": {"mlpkit": __version__, "optuna": optuna.__version__},
    }
    write_text(study_dir / "study.json", json.dumps(about, indent=2) + "\n")
    log.info("created study %s in %s", spec.study_name, where)
    return study


def load_spec(study_dir: Path, storage: str | None, study_name: str | None, heartbeat: int):
    """The spec of an existing study (``--resume``), as its first start kept it."""
    optuna = require("optuna", "tune")
    name = study_name or study_dir.resolve().name
    where = shown(storage, study_dir)
    if not study_exists(storage, study_dir, name, heartbeat):
        raise ConfigError(
            f"there is no study {name} in {where} to resume; start it without --resume "
            "(or give the --out / --storage and --study-name it was started with)"
        )
    study = optuna.load_study(study_name=name, storage=open_storage(storage, study_dir, heartbeat))
    kept = study.user_attrs.get("mlpkit")
    if not isinstance(kept, dict):
        raise ConfigError(
            f"the study {name} in {where} was not created by mlpkit tune; give another study"
        )
    return StudySpec(study_dir=str(study_dir), storage=storage, study_name=name, **kept)


def open_study(spec: StudySpec, seed_offset: int = 0) -> Any:
    """The study, with this process's sampler and pruner (Optuna stores neither)."""
    optuna = require("optuna", "tune")
    return optuna.load_study(
        study_name=spec.study_name,
        storage=open_storage(spec.storage, Path(spec.study_dir), spec.heartbeat),
        sampler=make_sampler(spec, seed_offset),
        pruner=make_pruner(spec),
    )
