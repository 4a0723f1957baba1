"""Checkpoint files: one self-describing file per save, written atomically, loaded safely.

A checkpoint holds the model and optimizer state, the random states and batch order, the epoch,
the history so far, every callback's state (scheduler, early stopping, best metric), the mlpkit
and torch versions, and whatever the caller adds (the run's config), so that a resume needs
nothing else. Loading verifies every record's CRC and uses ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import io
import pickle
import re
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError, DataNotFoundError
from ..version import __version__
from .atomic import atomic_write
from .checkpoint_checks import check_progress

FORMAT_VERSION = 1
LAST, BEST = "last.pt", "best.pt"
EPOCH_FILE = re.compile(r"^epoch-(\d+)\.pt$")
# What atomic_write leaves behind when the process is killed between creating and renaming.
TEMPORARY = re.compile(r"^\.(last|best|epoch-\d+)\.pt\..+\.tmp$")
# What torch.load(weights_only=True) accepts, by exact type: subclasses (np.float64 is a float,
# torch.__version__ a str) are pickled by class, which a safe load refuses.
_PLAIN = {type(None), bool, int, float, complex, str, bytes, torch.Size, torch.dtype, torch.device}
_CONTAINERS = {dict, OrderedDict, list, tuple, set}


def versions() -> dict[str, str]:
    """The mlpkit and torch versions, as stamped into checkpoints and model files."""
    # str(): torch.__version__ is a str subclass, which a weights_only load refuses.
    return {"mlpkit": __version__, "torch": str(torch.__version__)}


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write a checkpoint dict atomically.

    Refuses values that loading with ``weights_only=True`` would refuse (NumPy scalars, custom
    classes), so that a checkpoint mlpkit writes is always one it can load.

    >>> save_checkpoint("ckpt/last.pt", {"model": model.state_dict()})  # doctest: +SKIP
    """
    _check_plain(state, "the checkpoint")
    atomic_write(Path(path), lambda file: _save(file, {"format": FORMAT_VERSION, **state}))


def checkpoint_bytes(state: dict[str, Any]) -> memoryview:
    """A checkpoint's file contents, as ``save_checkpoint`` would write them: for a caller that
    captures the state now and writes it later (``Checkpoint`` writes on a thread)."""
    _check_plain(state, "the checkpoint")
    buffer = io.BytesIO()
    torch.save({"format": FORMAT_VERSION, **state}, buffer)
    return buffer.getbuffer()


class _Recorded:
    """A file that keeps the ``OSError`` its ``write`` raised: torch.save turns it into a
    RuntimeError ("unexpected pos") that no longer says the disk is full."""

    def __init__(self, file: Any) -> None:
        self.file, self.error = file, None

    def write(self, data: Any) -> int:
        try:
            return self.file.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)


def _save(file: Any, state: dict[str, Any]) -> None:
    recorded = _Recorded(file)
    try:
        torch.save(state, recorded)
    except RuntimeError:
        if recorded.error is not None:
            raise recorded.error from None  # atomic_write names the path and the fix
        raise


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
    if "epoch" in state or "optimizer" in state:  # a training checkpoint, not bare weights
        check_progress(state, path)
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
