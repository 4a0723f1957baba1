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
    """``{path: fingerprint}`` for each of ``paths`` that is a file.

    Files up to 256 MB are hashed whole (SHA-256); larger ones by their size and their first,
    middle and last 4 MB, which keeps a resume of a data set larger than memory quick.
    """
    return {str(p): fingerprint(Path(p)) for p in paths if p and Path(p).is_file()}


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


def check_unchanged(saved: dict[str, str] | None, paths: list[str | None]) -> None:
    """Refuse to resume when a data file differs from the one the run started with."""
    if not saved:
        return
    current = data_files(paths)
    changed = sorted(p for p, print_ in saved.items() if current.get(p) != print_)
    if changed:
        raise DataError(
            f"{', '.join(changed)} changed or went missing since this run started, so resuming "
            "would not continue the same run; put back the data it was trained on, or start a "
            "new run with mlpkit train"
        )
