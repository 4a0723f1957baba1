"""The one atomic write: a temporary file beside the target, fsynced, then renamed over it.

Checkpoints, model files, run-folder files and downloads all go through ``atomic_write``, so a
process killed part-way (or a full disk) never leaves a half-written file under a real name.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ..errors import MlpkitError, WriteError


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
    changes ``path``, and it is atomic on POSIX and Windows. If ``write`` raises, ``path`` is
    left as it was and the temporary file is removed.

    An ``OSError`` of the file system (a full disk, a read-only folder, a path under a file)
    becomes a ``WriteError`` naming the path, the OS error and the fix; others (a download's
    network errors, raised by ``write``) are left as they are.

    >>> atomic_write(Path("out/notes.txt"), lambda f: f.write(b"hello"))  # doctest: +SKIP
    """
    try:
        _atomic_write(path, write)
    except MlpkitError:
        raise
    except OSError as exc:
        if exc.errno not in _FIXES:
            raise
        raise write_error(path, exc) from None


# What to do about the errors a write meets most, by errno.
_FIXES = {
    errno.ENOSPC: "the disk is full; free some space or write to another disk",
    errno.EDQUOT: "the disk quota is used up; free some space or write elsewhere",
    errno.EROFS: "the file system is read-only; write to another folder",
    errno.EACCES: "check the folder's permissions, or write to another folder",
    errno.EPERM: "check the folder's permissions, or write to another folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
    errno.EEXIST: "a file is where a folder should be; choose another path",
    errno.EISDIR: "it is a folder; give a file name",
    errno.ENAMETOOLONG: "choose a shorter path",
    errno.EIO: "the disk failed to write; check it, or write to another disk",
    errno.ENOENT: "a folder on the path is missing; create it or choose another path",
}


def write_error(path: Path, exc: OSError) -> WriteError:
    """The one-line error for an ``OSError`` met while writing ``path``."""
    fix = _FIXES.get(exc.errno or 0, "check the path, or write somewhere else")
    return WriteError(f"cannot write {path} ({exc.strerror or exc}); {fix}")


def writable_file(path: Path, what: str = "the output file") -> None:
    """Refuse, before any work, a file path that is a folder or whose folder does not exist."""
    if path.is_dir():
        raise WriteError(f"{what} {path} is a folder; give a file name, e.g. {path / 'out.csv'}")
    if not path.parent.is_dir():
        kind = "is a file" if path.parent.exists() else "does not exist"
        raise WriteError(
            f"the folder of {what} {path} {kind}; create the folder or choose another path"
        )


def _atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
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
    fsync_directory(path.parent)


def write_text(path: Path, text: str) -> None:
    """``atomic_write`` of a text file (UTF-8)."""
    atomic_write(path, lambda file: file.write(text.encode()))


def fsync_directory(folder: Path) -> None:
    """Make renames in ``folder`` durable across a power cut (not possible on Windows)."""
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
        fsync_directory(path.parent)
