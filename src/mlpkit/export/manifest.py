"""``export/manifest.json``: each exported file with its size, SHA-256, how it was verified and
the largest differences found, plus the versions that wrote it and the weights it came from.

Exporting one format keeps the other formats' entries while their files are unchanged and come
from the same weights, so ``mlpkit export RUN --format onnx`` then ``--format pt2`` lists both.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path
from typing import Any

from ..io.atomic import write_text
from ..io.checkpoint_file import versions

MANIFEST = "manifest.json"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of an export folder, or None where there is none (or it is unreadable)."""
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def current_entries(folder: Path, weights_sha256: str | None) -> dict[str, dict[str, Any]]:
    """The manifest's entries whose files are still there, unchanged, from these weights."""
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("weights_sha256") != weights_sha256:
        return {}
    kept = {}
    for name, entry in (manifest.get("files") or {}).items():
        path = folder / str(entry.get("path", ""))
        if path.is_file() and sha256(path) == entry.get("sha256"):
            kept[name] = entry
    return kept


def write_manifest(
    folder: Path,
    entries: dict[str, dict[str, Any]],
    *,
    run: str,
    weights_sha256: str | None,
    rows: str,
    tolerance: float,
    batch_sizes: tuple[int, ...],
) -> None:
    document = {
        "format": "mlpkit-export-manifest/1",
        "run": run,
        "weights_sha256": weights_sha256,
        "verification": {
            "rows": rows,
            "batch_sizes": list(batch_sizes),
            "tolerance": tolerance,
            "rule": "|export - eager| <= tolerance * max(1, |eager|), elementwise",
        },
        "files": entries,
        "versions": export_versions(),
    }
    write_text(folder / MANIFEST, json.dumps(document, indent=2))


def export_versions() -> dict[str, str]:
    """mlpkit, torch, Python and, where installed, the ONNX packages."""
    found = {**versions(), "python": platform.python_version()}
    for package in ("onnx", "onnxscript", "onnxruntime", "safetensors", "numpy"):
        module = sys.modules.get(package)
        if module is not None and hasattr(module, "__version__"):
            found[package] = str(module.__version__)
    return found
