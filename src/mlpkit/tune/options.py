"""How a study runs (a config's ``[tune]`` table, or ``mlpkit tune``'s own flags).

These are not run settings: a trial is an ordinary run of the settings in ``mlpkit.config``,
some of them drawn from the search space (``[tune.space]``, see ``mlpkit.tune.space``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import model_validator

from ..config import SECTIONS, validated
from ..config.sections import Section, setting
from ..errors import ConfigError


class TuneConfig(Section):
    """One study: how many trials, what is optimised, where the trials are stored."""

    trials: int = setting(20, "trials the study holds when done, counting earlier ones", ge=1)
    timeout: float | None = setting(None, "stop starting trials after this many seconds", gt=0)
    metric: str | None = setting(
        None, "history column to optimise (default: the task's first validation metric)"
    )
    direction: Literal["auto", "max", "min"] = setting(
        "auto", "max or min (default: from the metric's name)"
    )
    pruner: Literal["median", "hyperband", "none"] = setting(
        "median", "stop unpromising trials early: median, hyperband or none"
    )
    startup_trials: int = setting(
        5, "trials drawn at random before the sampler models the space and the pruner prunes", ge=0
    )
    workers: int = setting(1, "worker processes on this machine, sharing the CPU threads", ge=1)
    parallel_trials: int = setting(
        1, "trials asked at once and trained as stacked models (same layers: one stack)", ge=1
    )
    storage: str | None = setting(
        None, "a database URL (postgresql://...) or journal file (default: in the study folder)"
    )
    study_name: str | None = setting(None, "the study's name in the storage (default: folder name)")
    heartbeat: int = setting(
        30, "database storage: seconds between a running trial's heartbeats", ge=1
    )
    stale_after: float | None = setting(
        None,
        "journal storage: a RUNNING trial this many seconds old counts as lost "
        "(default: 5x the longest trial, at least 10 minutes)",
        gt=0,
    )
    plots: bool = setting(True, "draw the study's plots (PNG) at the end")
    space: dict[str, Any] | None = setting(None, "the search space ([tune.space])", cli=False)

    @model_validator(mode="after")
    def _sqlite_is_for_one_worker(self) -> TuneConfig:
        if self.workers > 1 and (self.storage or "").startswith("sqlite"):
            raise ValueError(
                "SQLite storage fails with parallel workers ('database is locked'); use the "
                "default journal storage or a database server, or one worker"
            )
        return self

    @model_validator(mode="after")
    def _parallel_trials_in_one_worker(self) -> TuneConfig:
        if self.workers > 1 and self.parallel_trials > 1:
            raise ValueError(
                "--parallel-trials and --workers cannot be combined yet; give one of the two"
            )
        return self


def split_tune_table(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A config file's values without its ``[tune]`` table, and that table."""
    values = dict(values)
    tune = values.pop("tune", {})
    if not isinstance(tune, dict):
        raise ConfigError("tune in a config file is a table: [tune] trials = 50")
    return values, tune


def read_tune_file(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A TOML config's run settings (as ``build_config`` takes them) and its ``[tune]`` table."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no config file at {path}; give a TOML file such as tune.toml")
    try:
        values = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}; fix the file") from None
    return split_tune_table(values)


def given_keys(values: dict[str, Any]) -> set[str]:
    """The settings a config's values set, flat or in section tables, as flat keys."""
    found = set()
    for key, value in values.items():
        if key in SECTIONS and isinstance(value, dict):
            found |= {"data" if (key, name) == ("data", "name") else name for name in value}
        else:
            found.add(key.replace("-", "_"))
    return found


def tune_config(values: dict[str, Any]) -> TuneConfig:
    """A validated ``TuneConfig``; a bad value is named as ``bad setting tune.trials: ...``."""
    try:
        return validated(TuneConfig, values)
    except ConfigError as exc:
        message = str(exc)
        if message.startswith("bad setting : "):  # about the table as a whole
            message = message.replace("bad setting : ", "bad setting tune: ", 1)
        else:
            message = message.replace("bad setting ", "bad setting tune.", 1)
        raise ConfigError(message) from None
