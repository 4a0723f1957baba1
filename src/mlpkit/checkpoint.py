"""Checkpoints: one self-describing file per save, written atomically, loaded safely.

A checkpoint holds the model and optimizer state, the random states and batch order, the epoch,
the history so far, every callback's state, and whatever the caller adds (the run's config), so
that a resume needs nothing else.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .callbacks import Callback
from .errors import CheckpointError, DataNotFoundError

if TYPE_CHECKING:
    from .trainer import Trainer

FORMAT_VERSION = 1


def atomic_write(path: Path, write) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, then rename it over.

    A process killed part-way leaves the previous file intact: the rename is the only step that
    changes ``path``, and it is atomic on POSIX and Windows.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
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


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write a checkpoint dict atomically."""
    atomic_write(Path(path), lambda file: torch.save({"format": FORMAT_VERSION, **state}, file))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``: tensors and plain values, never code.

    >>> state = load_checkpoint("runs/digits/checkpoints/last.pt")  # doctest: +SKIP
    """
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / "last.pt"
    if not path.is_file():
        raise DataNotFoundError(f"no checkpoint at {path}; give a checkpoint file or a run folder")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path} needs pickled Python code to load, and unpickling runs code, so mlpkit "
            "refuses it; if you trust the file, load it yourself with "
            f"torch.load(path, weights_only=False) ({str(exc).splitlines()[0]})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path} is truncated or corrupted ({str(exc).splitlines()[0]}); "
            "resume from another checkpoint or retrain"
        ) from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path} is not an mlpkit checkpoint (no model state in it)")
    return state


class Checkpoint(Callback):
    """Saves ``last.pt`` after every epoch (and is what ``fit(checkpoint=...)`` installs).

    ``path`` is the file to write; ``extra`` is added to every checkpoint (for example the
    run's config and the model's constructor arguments).
    """

    order = 100  # after the callbacks whose state it saves

    def __init__(self, path: str | Path, extra: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.extra = dict(extra or {})

    def on_epoch_end(self, trainer: Trainer) -> None:
        save_checkpoint(self.path, {**self.extra, **trainer.state_dict()})
