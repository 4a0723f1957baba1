"""Saved models: weights in safetensors, everything else in a JSON file beside them.

``model.json`` holds the architecture, preprocessing statistics, class names, task and the
mlpkit and torch versions, so ``load_model`` rebuilds the model without any pickled code. It also
holds the SHA-256 of the weights file: safetensors has no checksum of its own, and a damaged
file must be refused rather than loaded with wrong weights.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint import atomic_write
from .errors import CheckpointError, DataNotFoundError
from .models import ARCHITECTURES

WEIGHTS = "model.safetensors"
METADATA = "model.json"


def save_model(folder: str | Path, model: nn.Module, metadata: dict[str, Any]) -> None:
    """Write ``model.safetensors`` and ``model.json`` into ``folder`` (each atomically)."""
    from safetensors.torch import save

    from . import __version__

    folder = Path(folder)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights = save(state)
    document = {
        "format": "mlpkit-model/1",
        "architecture": {"type": type(model).__name__, **model.arguments()},
        **metadata,
        "versions": {"mlpkit": __version__, "torch": torch.__version__},
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
    }
    atomic_write(folder / WEIGHTS, lambda f: f.write(weights))
    text = json.dumps(document, indent=2, default=_plain)
    atomic_write(folder / METADATA, lambda f: f.write(text.encode()))


def load_model(folder: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """The model and its metadata from a run folder.

    >>> model, meta = load_model("runs/digits")  # doctest: +SKIP
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .trainer import load_model_state

    folder = Path(folder)
    weights, metadata_path = folder / WEIGHTS, folder / METADATA
    for path in (metadata_path, weights):
        if not path.is_file():
            raise DataNotFoundError(
                f"no {path.name} in {folder}; give the folder of a finished run"
            )
    try:
        metadata = json.loads(metadata_path.read_text())
        architecture = dict(metadata["architecture"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{metadata_path} is corrupted ({exc}); retrain the run") from None
    kind = architecture.pop("type", None)
    if kind not in ARCHITECTURES:
        raise CheckpointError(
            f"{metadata_path} describes a model of type {kind!r}, not one of mlpkit's "
            f"({', '.join(ARCHITECTURES)}); load its weights into your own model in Python"
        )
    try:
        model = ARCHITECTURES[kind](**architecture)
    except TypeError as exc:
        raise CheckpointError(f"{metadata_path} is corrupted ({exc}); retrain the run") from None
    expected = metadata.get("weights_sha256")
    if expected is not None and _sha256(weights) != expected:
        raise CheckpointError(
            f"{weights} is corrupted (its SHA-256 differs from the one in {METADATA}); "
            "restore it from a backup or retrain the run"
        )
    try:
        state = load_file(weights, device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{weights} is truncated or corrupted ({str(exc).splitlines()[0]}); retrain the run"
        ) from None
    load_model_state(model, state, source=str(weights))
    return model.to(device).eval(), metadata


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
