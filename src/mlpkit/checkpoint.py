"""Checkpoints: one self-describing file per save, written atomically, loaded safely.

A checkpoint holds the model and optimizer state, the random states and batch order, the epoch,
the history so far, every callback's state (scheduler, early stopping, best metric), the mlpkit
and torch versions, and whatever the caller adds (the run's config), so that a resume needs
nothing else.

The ``Checkpoint`` callback writes, in its folder, ``last.pt`` after every epoch (and at the start
of a run), ``epoch-NNNN.pt`` every N epochs and ``best.pt`` when the monitored metric improves.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import shutil
import tempfile
import uuid
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import torch

from .callbacks import Callback
from .errors import CheckpointError, ConfigError, DataNotFoundError
from .monitor import Monitor

if TYPE_CHECKING:
    from .trainer import Trainer

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
LAST, BEST = "last.pt", "best.pt"
_EPOCH_FILE = re.compile(r"^epoch-(\d+)\.pt$")
# What atomic_write leaves behind when the process is killed between creating and renaming.
_TEMPORARY = re.compile(r"^\.(last|best|epoch-\d+)\.pt\..+\.tmp$")
# What torch.load(weights_only=True) accepts, by exact type: subclasses (np.float64 is a float,
# torch.__version__ a str) are pickled by class, which a safe load refuses.
_PLAIN = {type(None), bool, int, float, complex, str, bytes, torch.Size, torch.dtype, torch.device}
_CONTAINERS = {dict, OrderedDict, list, tuple, set}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by their owner only; a run folder's files should get the same
# permissions as any other new file.
_FILE_MODE = 0o666 & ~_umask()


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, then rename it over.

    A process killed part-way leaves the previous file intact: the rename is the only step that
    changes ``path``, and it is atomic on POSIX and Windows.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            os.chmod(temporary, _FILE_MODE)
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(folder: Path) -> None:
    # Makes the rename itself durable across a power cut (not possible on Windows).
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def atomic_copy(source: Path, path: Path, sync: bool = True) -> None:
    """Make ``path`` a copy of ``source``, atomically: a hard link where possible (no extra disk
    space; ``source`` is only ever replaced, never changed in place), else a copied file.
    ``sync=False`` leaves the folder's fsync to the caller, for several copies at once."""

    def write(file: IO[bytes]) -> None:
        with open(source, "rb") as original:
            shutil.copyfileobj(original, file)

    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        os.link(source, temporary)
    except OSError:  # no hard links on this file system
        atomic_write(path, write)
        return
    try:
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    if sync:
        _fsync_directory(path.parent)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write a checkpoint dict atomically.

    Refuses values that loading with ``weights_only=True`` would refuse (NumPy scalars, custom
    classes), so that a checkpoint mlpkit writes is always one it can load.

    >>> save_checkpoint("ckpt/last.pt", {"model": model.state_dict()})  # doctest: +SKIP
    """
    _check_plain(state, "the checkpoint")
    atomic_write(Path(path), lambda file: torch.save({"format": FORMAT_VERSION, **state}, file))


def _check_plain(value: Any, where: str) -> None:
    kind = type(value)
    if kind in (dict, OrderedDict):
        for key, item in value.items():
            _check_plain(key, f"a key of {where}")
            _check_plain(item, f"{where}[{key!r}]")
    elif kind in _CONTAINERS:
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]")
    elif kind not in _PLAIN and not isinstance(value, torch.Tensor):
        raise CheckpointError(
            f"{where} is a {type(value).__module__}.{type(value).__qualname__}, which a safe load "
            "(weights_only=True) refuses; store plain numbers, strings, lists, dicts or tensors"
        )


def checkpoint_path(path: str | Path) -> Path:
    """The checkpoint file meant by ``path``: the file itself, a checkpoints folder (its
    ``last.pt``) or a run folder (its ``checkpoints/last.pt``)."""
    path = Path(path)
    if path.is_dir():
        for candidate in (path / LAST, path / "checkpoints" / LAST):
            if candidate.is_file():
                return candidate
        raise DataNotFoundError(
            f"no checkpoint in {path} (looked for {LAST} and checkpoints/{LAST}); "
            "give a checkpoint file or a run folder"
        )
    if not path.is_file():
        raise DataNotFoundError(f"no checkpoint at {path}; give a checkpoint file or a run folder")
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``: tensors and plain values, never code.

    ``path`` is a checkpoint file, a checkpoints folder or a run folder (then ``last.pt``). The
    file's checksums are verified first, so a damaged file is refused rather than loaded with
    wrong numbers.

    >>> state = load_checkpoint("runs/digits")  # doctest: +SKIP
    >>> state["epoch"], state["config"]["train"]["epochs"]  # doctest: +SKIP
    """
    path = checkpoint_path(path)
    damaged = "resume from another checkpoint (epoch-NNNN.pt, best.pt) or retrain"
    if not zipfile.is_zipfile(path):  # torch.save writes zip archives; the end is cut off
        raise CheckpointError(
            f"{path} is truncated or corrupted (not a complete torch.save archive); {damaged}"
        )
    _verify_checksums(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path} needs pickled Python code to load, and unpickling runs code, so mlpkit "
            "refuses it; if you trust the file, load it yourself with "
            f"torch.load(path, weights_only=False) ({_first_line(exc)})"
        ) from None
    except Exception as exc:  # torch.load fails in many ways on a damaged archive
        raise CheckpointError(
            f"{path} is truncated or corrupted ({_first_line(exc) or type(exc).__name__}); "
            f"{damaged}"
        ) from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path} is not an mlpkit checkpoint (no model state in it)")
    if int(state.get("format", 0)) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} was written by a newer mlpkit (checkpoint format {state['format']}); "
            "upgrade mlpkit to load it"
        )
    return state


def _verify_checksums(path: Path) -> None:
    # torch.load does not check the CRC-32 that torch.save stores for every record, so a
    # flipped byte in the weights would load silently; zipfile checks them all.
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        damaged = f"? ({exc})"
    if damaged is not None:
        raise CheckpointError(
            f"{path} is corrupted (record {damaged} fails its checksum); "
            "resume from another checkpoint (epoch-NNNN.pt, best.pt) or retrain"
        )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


class Checkpoint(Callback):
    """Writes checkpoints into ``folder`` (what ``fit(checkpoint=folder)`` installs).

    - ``last.pt`` at the start of a run, after every epoch and when a signal stops training
      part-way through an epoch: what a resume starts from;
    - ``epoch-NNNN.pt`` every ``every`` epochs, the newest ``keep_last`` of them kept;
    - ``best.pt`` whenever ``monitor`` improves (``val_loss`` by default, ``train_loss`` without
      validation data; ``mode`` min or max, inferred from the name), unless ``best=False``.

    ``extra`` is added to every checkpoint (for example the run's config and architecture).

    >>> checkpoint = Checkpoint("ckpt", every=5, keep_last=2, monitor="val_accuracy")
    >>> fit(model, "mse", (X, y), (X_val, y_val), checkpoint=checkpoint)  # doctest: +SKIP
    """

    order = 100  # after the callbacks whose state it saves

    def __init__(
        self,
        folder: str | Path,
        *,
        every: int | None = None,
        keep_last: int | None = None,
        best: bool = True,
        monitor: str | None = None,
        mode: str = "auto",
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.folder = Path(folder)
        if self.folder.suffix == ".pt":
            raise ConfigError(
                f"Checkpoint takes a folder (it writes {LAST}, {BEST} and epoch-NNNN.pt in it), "
                f"got the file name {self.folder}; give {self.folder.parent}"
            )
        for name, value in (("every", every), ("keep_last", keep_last)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}")
        if keep_last is not None and every is None:
            raise ConfigError("keep_last prunes epoch-NNNN.pt files; give every=N as well")
        self.every = every
        self.keep_last = keep_last
        self.monitor = Monitor(monitor, mode) if best else None
        self.extra = dict(extra or {})
        self.best_value: float | None = None
        self.best_epoch: int | None = None

    @property
    def last_path(self) -> Path:
        return self.folder / LAST

    @property
    def best_path(self) -> Path:
        return self.folder / BEST

    def epoch_path(self, epoch: int) -> Path:
        return self.folder / f"epoch-{epoch:04d}.pt"

    def setup(self, trainer: Trainer) -> None:
        if self.monitor is not None:
            self.monitor.resolve(trainer)

    def on_fit_start(self, trainer: Trainer) -> None:
        self._remove_temporaries()
        if trainer.epoch == 0:
            # So that a run interrupted in its first epoch can be resumed like any other.
            self._save(trainer, [])

    def on_epoch_end(self, trainer: Trainer) -> None:
        copies = []
        if self.every is not None and trainer.epoch % self.every == 0:
            copies.append(self.epoch_path(trainer.epoch))
        if self.monitor is not None:
            value = self.monitor.value(trainer.row)
            if self.monitor.improved(value, self.best_value):
                self.best_value, self.best_epoch = value, trainer.epoch
                copies.append(self.best_path)
        self._save(trainer, copies)
        if self.keep_last is not None:
            self._prune(trainer.epoch)

    def on_interrupt(self, trainer: Trainer) -> None:
        # Only last.pt: the epoch is not finished, so it is neither numbered nor compared.
        self._save(trainer, [])

    def _save(self, trainer: Trainer, copies: list[Path]) -> None:
        save_checkpoint(self.last_path, {**self.extra, **trainer.state_dict()})
        for path in copies:
            atomic_copy(self.last_path, path, sync=False)
        if copies:
            _fsync_directory(self.folder)

    def _prune(self, epoch: int) -> None:
        # Files of later epochs (left by a run resumed from an earlier checkpoint) are not ours
        # to judge yet; they are overwritten as training reaches them.
        numbered = sorted(
            (int(match.group(1)), path)
            for path in self.folder.iterdir()
            if (match := _EPOCH_FILE.match(path.name)) and int(match.group(1)) <= epoch
        )
        for _, path in numbered[: -self.keep_last]:
            path.unlink(missing_ok=True)

    def _remove_temporaries(self) -> None:
        if not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            if _TEMPORARY.match(path.name):
                log.info("removing %s, left by a process killed while saving", path)
                path.unlink(missing_ok=True)

    def state_dict(self) -> dict[str, Any]:
        return {
            "monitor": None if self.monitor is None else self.monitor.name,
            "best": self.best_value,
            "best_epoch": self.best_epoch,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.monitor is not None and state.get("monitor") == self.monitor.name:
            self.best_value, self.best_epoch = state["best"], state["best_epoch"]
        elif self.monitor is not None:
            log.warning(
                "the checkpoint tracked the best %s, this run monitors %s: best.pt starts afresh",
                state.get("monitor"),
                self.monitor.name,
            )
