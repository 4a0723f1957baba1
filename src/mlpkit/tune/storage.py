"""Where a study lives, and the trials a lost worker left RUNNING in it.

The default is Optuna's journal storage in the study folder (``study.journal``): an append-only
log that several processes on one machine share safely through a lock file, where SQLite would
fail with "database is locked". ``--storage`` takes a database URL (PostgreSQL, MySQL...; workers
on several machines then share one study, with heartbeats) or another journal file's path.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import warnings
from pathlib import Path
from typing import Any

from ..errors import ConfigError, MissingExtraError, require

log = logging.getLogger(__name__)

JOURNAL = "study.journal"
# A trial no worker has claimed this long after it started was lost between being created and
# being claimed (the worker records itself first thing).
UNCLAIMED_SECONDS = 60.0
LEAST_STALE_SECONDS = 600.0


def is_database(url: str | None) -> bool:
    return url is not None and "://" in url


def journal_path(url: str | None, study_dir: Path) -> Path | None:
    """The journal file a study uses (None for a database)."""
    if is_database(url):
        return None
    return Path(url) if url is not None else study_dir / JOURNAL


def shown(url: str | None, study_dir: Path) -> str:
    """The storage as it may be printed: a database URL without its password."""
    if not is_database(url):
        return str(journal_path(url, study_dir))
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def open_storage(url: str | None, study_dir: Path, heartbeat: int = 30) -> Any:
    """An Optuna storage: the study folder's journal, a journal file, or a database URL."""
    optuna = require("optuna", "tune")
    path = journal_path(url, study_dir)
    if path is not None:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    try:
        with warnings.catch_warnings():  # heartbeats are an "experimental" Optuna feature
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs={"pool_pre_ping": True},
                heartbeat_interval=heartbeat,
                grace_period=3 * heartbeat,
            )
    except ModuleNotFoundError as exc:
        raise MissingExtraError(
            f"the storage {shown(url, study_dir)} needs the database driver {exc.name}; "
            "install it (for PostgreSQL: pip install psycopg2-binary)"
        ) from None
    except Exception as exc:  # sqlalchemy's errors: a bad URL, a server not reachable
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"cannot open the storage {shown(url, study_dir)}: {first}; check the URL, and that "
            "the server runs and lets this user in"
        ) from None


def study_exists(url: str | None, study_dir: Path, name: str, heartbeat: int = 30) -> bool:
    path = journal_path(url, study_dir)
    if path is not None and (not path.is_file() or path.stat().st_size == 0):
        return False  # not even the file: nothing to open (and nothing created)
    import optuna

    storage = open_storage(url, study_dir, heartbeat)
    return name in optuna.get_all_study_names(storage)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: it runs nothing
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def worker_id() -> dict[str, Any]:
    """What a trial records of the process that runs it, so a lost one can be recognised."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def fail_lost_trials(study: Any, stale_after: float | None = None) -> list[int]:
    """Mark failed the trials left RUNNING by workers that are gone; their numbers.

    A trial is lost when its worker ran on this machine and has ended; when the storage has
    heartbeats (databases) and the trial's have stopped; or, without heartbeats (a journal),
    when it has run longer than ``stale_after`` seconds (default: five times the longest
    finished trial, at least ten minutes). Each gets its reason as the ``fail_reason``
    attribute, which is why this does not call Optuna's ``fail_stale_trials`` (it records none).
    """
    import optuna
    from optuna.trial import TrialState

    storage = study._storage  # the storage the study was opened with
    heartbeat = getattr(storage, "get_heartbeat_interval", lambda: None)() is not None
    # Optuna's own test for a stale heartbeat (what its fail_stale_trials uses).
    stopped = set(storage._get_stale_trial_ids(study._study_id)) if heartbeat else set()
    trials = study.get_trials(deepcopy=False)
    limit = stale_after or max(LEAST_STALE_SECONDS, 5 * _longest(trials))
    now = datetime.datetime.now()
    here = socket.gethostname()
    lost = []
    for trial in trials:
        if trial.state != TrialState.RUNNING or trial.datetime_start is None:
            continue
        age = (now - trial.datetime_start).total_seconds()
        worker = trial.user_attrs.get("worker")
        reason = None
        if worker and worker.get("host") == here and not _alive(int(worker["pid"])):
            reason = f"its worker (process {worker['pid']} on {here}) ended before it finished"
        elif trial._trial_id in stopped:
            reason = "its worker stopped sending heartbeats"
        elif worker is None and age > UNCLAIMED_SECONDS:
            reason = f"no worker claimed it in {age:.0f} s"
        elif not heartbeat and age > limit:
            reason = f"it was RUNNING for {age:.0f} s, longer than a trial takes ({limit:.0f} s)"
        if reason is None:
            continue
        try:
            storage.set_trial_user_attr(trial._trial_id, "fail_reason", reason)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # its worker (or another start) finished it meanwhile
        log.warning("trial %d was left RUNNING and is marked failed: %s", trial.number, reason)
        lost.append(trial.number)
    return lost


def _longest(trials: list[Any]) -> float:
    durations = [t.duration.total_seconds() for t in trials if t.duration is not None]
    return max(durations, default=0.0)
