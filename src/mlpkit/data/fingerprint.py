"""Fingerprints of the data files a run reads, so that a resumed run trains on the same data.

A checkpoint keeps them; resuming after a file changed would silently continue another run.
Built-in data sets are generated the same way each time and downloaded ones are checked against
published checksums, so only the user's own files are fingerprinted.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import DataError
from .downloads import file_checksum

_WHOLE_FILE_LIMIT = 256 << 20  # larger files (streamed ones) are sampled, not read whole
_SAMPLE = 4 << 20


def data_files(paths: list[str | None]) -> dict[str, str]:
    """``{absolute path: fingerprint}`` for each of ``paths`` that is a file.

    Files up to 256 MB are hashed whole (SHA-256); larger ones by their size and their first,
    middle and last 4 MB, which keeps a resume of a data set larger than memory quick. Paths
    are absolute, so that a run is checked the same from any working directory.
    """
    return {_absolute(p): fingerprint(Path(p)) for p in paths if p and Path(p).is_file()}


def _absolute(path: str) -> str:
    return str(Path(path).expanduser().resolve())


def fingerprint(path: Path) -> str:
    size = path.stat().st_size
    if size <= _WHOLE_FILE_LIMIT:
        return file_checksum(path)  # "sha256:<hex>", as downloads are checked
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for offset in (0, size // 2, size - _SAMPLE):
            file.seek(offset)
            digest.update(file.read(_SAMPLE))
    return f"size {size}, sampled sha256:{digest.hexdigest()}"


_CONSEQUENCES = {
    "resume": (
        "resuming would not continue the same run; put back the data it was trained on, or "
        "start a new run with mlpkit train"
    ),
    "evaluate": (
        "its test split could now hold training rows; put back the data it was trained on, "
        "or evaluate on a file with --data"
    ),
}


def check_unchanged(
    saved: dict[str, str] | None, paths: list[str | None], action: str = "resume"
) -> None:
    """Refuse to resume (or evaluate on its own split) a run whose data files differ from the
    ones it was trained on. ``saved`` paths may be relative (older runs: to this directory)."""
    if not saved:
        return
    current = data_files(paths)
    missing = sorted(p for p in saved if not Path(p).is_file())
    changed = sorted(
        p for p, print_ in saved.items() if p not in missing and current.get(_absolute(p)) != print_
    )
    if missing or changed:
        what = [f"{', '.join(changed)} changed"] * bool(changed)
        what += [f"{', '.join(missing)} is missing"] * bool(missing)
        raise DataError(
            f"{' and '.join(what)} since this run was trained, so {_CONSEQUENCES[action]}"
        )
