"""The folder a run writes: chosen without touching an earlier run, and locked while written.

- ``runs/<data>`` by default, or the next free ``runs/<data>-2``, ``-3``... (and it says so);
- an ``out`` folder that already holds a run is refused, unless ``overwrite``: the new run then
  trains in a staging folder beside it (``.<name>.incoming``) and replaces the earlier run only
  once it has finished, so a run that fails leaves the earlier one exactly as it was;
- a lock (``.lock``, holding the process id) keeps a second process out of a folder in use.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from ..callbacks.base import Callback, TrainingState
from ..errors import ConfigError
from ..io.atomic import fsync_directory, write_text
from ..io.history_csv import history_csv

log = logging.getLogger(__name__)

LOCK = ".lock"
INCOMING = ".{}.incoming"  # the staging folder of a run that replaces an earlier one


def holds_run(folder: Path) -> bool:
    """Whether ``folder`` holds anything but a lock."""
    return folder.is_dir() and any(p.name != LOCK for p in folder.iterdir())


def default_folder(data_name: str) -> Path:
    """``runs/<data name>``, or the next free ``-2``, ``-3``... if that holds a run already."""
    base = Path("runs") / data_name
    candidate, number = base, 1
    while candidate.exists():
        number += 1
        candidate = base.with_name(f"{base.name}-{number}")
    if candidate != base:
        log.warning("%s holds an earlier run; this run goes to %s", base, candidate)
    return candidate


class RunFolder:
    """Where a run's files go (``path``), and the folder they end up in (``target``).

    Use it as a context manager: it locks the folder, removes a staging folder if the run fails,
    and ``commit()`` moves a finished replacement run into place.

    >>> with RunFolder(Path("runs/a"), overwrite=True) as folder:  # doctest: +SKIP
    ...     write_text(folder.path / "config.toml", "...")
    ...     folder.commit()
    """

    def __init__(self, target: Path, *, overwrite: bool = False, path: Path | None = None):
        if str(target).strip() in ("", "."):
            raise ConfigError("the run folder (out) is empty; give a folder such as runs/mine")
        if target.exists() and not target.is_dir():
            raise ConfigError(f"the run folder {target} is a file; give a folder (--out)")
        self.target = target
        if path is None:  # a new run
            path = target
            if holds_run(target):
                if not overwrite:
                    raise ConfigError(
                        f"{target} holds an earlier run; give another --out, or --overwrite "
                        "to replace it once the new run has finished"
                    )
                path = target.with_name(INCOMING.format(target.name))
                shutil.rmtree(path, ignore_errors=True)  # what a failed replacement left
        self.path = path
        self._locks: list[Any] = []

    @property
    def replacing(self) -> bool:
        return self.path != self.target

    def __enter__(self) -> RunFolder:
        for folder in dict.fromkeys([self.target, self.path]):
            _create(folder)
            self._locks.append(_lock(folder))
        return self

    def __exit__(self, kind, error, traceback) -> None:
        failed = kind is not None and not issubclass(kind, KeyboardInterrupt)
        for handle in self._locks:
            handle.close()  # closing releases the lock
        if failed and self.replacing:
            shutil.rmtree(self.path, ignore_errors=True)

    def commit(self) -> None:
        """Move a finished replacement run into place: the earlier run is removed only now."""
        if not self.replacing:
            return
        old = self.target.with_name(f".{self.target.name}.replaced")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(self.target, old)
        os.replace(self.path, self.target)
        fsync_directory(self.target.parent)
        shutil.rmtree(old, ignore_errors=True)
        log.info("replaced the earlier run in %s", self.target)
        self.path = self.target


class HistoryFile(Callback):
    """Writes ``history.csv`` atomically after every epoch: a stopped run shows how far it got."""

    order = 90  # after the history has the epoch's row, before the checkpoint
    writes = True

    def __init__(self, folder: Path) -> None:
        self.path = folder / "history.csv"

    def on_epoch_end(self, state: TrainingState) -> None:
        write_text(self.path, history_csv(state.history))


def _create(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the run folder {folder} ({exc.strerror}); give --out a folder "
            "you can write to"
        ) from None


def _lock(folder: Path):
    """Hold ``folder/.lock`` for this process; another process holding it is named."""
    handle = open(folder / LOCK, "a+")  # noqa: SIM115 (held open for the run's lifetime)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; the folder checks above still hold
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another"
        handle.close()
        raise ConfigError(
            f"{folder} is in use by mlpkit process {holder}; wait for it to finish, or give "
            "another --out"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
