"""Checks of NPY / NPZ files before NumPy reads them: that they are what their name says, and
that an NPZ file's arrays fit in memory once unpacked (a few kilobytes of zip can declare
terabytes)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..devices import physical_memory
from ..errors import DataError

_MAGIC = {".npy": b"\x93NUMPY", ".npz": b"PK"}


def check_array_file(path: Path) -> None:
    """Refuse a file whose first bytes are not those of its format (NumPy would otherwise say
    that a renamed CSV holds pickled data)."""
    suffix = path.suffix.lower()
    with open(path, "rb") as file:
        start = file.read(len(_MAGIC[suffix]))
    if start != _MAGIC[suffix]:
        saver = "np.save" if suffix == ".npy" else "np.savez"
        raise DataError(
            f"{path.name} is not an {suffix[1:].upper()} file (it starts with {start!r}); if it "
            f"is a table, name it .csv, .tsv or .parquet, else save the arrays with {saver}"
        )


def human_size(count: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if count < 1000 or unit == "PB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} PB"  # pragma: no cover


def check_unpacked_size(path: Path) -> None:
    """Refuse an NPZ file whose arrays, as their headers and the zip directory declare them,
    would take more memory than the machine has."""
    limit = physical_memory()
    if limit is None:
        return
    total = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            total += max(info.file_size, _declared_array_bytes(archive, info))
    if total > limit:
        raise DataError(
            f"{path.name} would take {human_size(total)} once unpacked, more than this "
            f"machine's {human_size(limit)} of memory; save the features with np.save as an "
            "NPY file (read memory-mapped, a part at a time) or give a smaller sample"
        )


def _declared_array_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """The size the header of an ``.npy`` member declares (0 if it has none NumPy reads)."""
    if not info.filename.endswith(".npy"):
        return 0
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            return 0
    return int(np.prod(shape, dtype=object)) * dtype.itemsize
