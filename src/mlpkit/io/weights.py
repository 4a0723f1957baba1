"""Saved models: weights in safetensors, everything else in a JSON file beside them.

``model.json`` holds the architecture, preprocessing statistics, class names, task and the
mlpkit and torch versions, so ``load_model`` rebuilds the model without any pickled code. It also
holds the SHA-256 of the weights file: safetensors has no checksum of its own, and a damaged
file must be refused rather than loaded with wrong weights; and the SHA-256 of its own content
(``metadata_sha256``), so that an edited statistic is refused rather than used.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError, DataNotFoundError
from ..models import ARCHITECTURES
from ..realmlp import RealMLP  # noqa: F401  (registers its architecture for loading)
from .atomic import atomic_write, write_text
from .checkpoint_file import versions

WEIGHTS = "model.safetensors"
METADATA = "model.json"


def save_model(folder: str | Path, model: nn.Module, metadata: dict[str, Any]) -> None:
    """Write ``model.safetensors`` and ``model.json`` into ``folder`` (each atomically)."""
    from safetensors.torch import save

    folder = Path(folder)
    if not callable(getattr(model, "arguments", None)):
        raise CheckpointError(
            f"save_model saves mlpkit's models ({', '.join(ARCHITECTURES)}), whose "
            f"architecture it can rebuild, not a {type(model).__name__}; save your own module "
            "with safetensors.torch.save_file(model.state_dict(), path)"
        )
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights = save(state)
    document = {
        "format": "mlpkit-model/1",
        "architecture": {"type": type(model).__name__, **model.arguments()},
        **metadata,
        "versions": versions(),
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
    }
    document = json.loads(json.dumps(document, default=_plain))  # as it will be read back
    document["metadata_sha256"] = _metadata_sha256(document)
    atomic_write(folder / WEIGHTS, lambda f: f.write(weights))
    write_text(folder / METADATA, json.dumps(document, indent=2))


def load_model(folder: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """The model and its metadata from a run folder.

    >>> model, meta = load_model("runs/digits")  # doctest: +SKIP
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

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
    except (ValueError, KeyError, TypeError) as exc:  # also bytes that are not UTF-8
        reason = str(exc).splitlines()[0][:80]
        raise CheckpointError(f"{metadata_path} is corrupted ({reason}); retrain the run") from None
    expected_metadata = metadata.get("metadata_sha256")
    if expected_metadata is not None and _metadata_sha256(metadata) != expected_metadata:
        raise CheckpointError(
            f"{metadata_path} was changed since it was saved (its SHA-256 differs from the one "
            "it holds); restore it from a backup or retrain the run"
        )
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


def load_model_state(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load weights, or list every missing, unexpected and mis-shaped parameter."""
    own = model.state_dict()
    problems = [f"missing {k}" for k in own if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in own]
    problems += [
        f"{k} is {tuple(state[k].shape)} but the model has {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if problems:
        raise CheckpointError(
            f"{source} does not match the model's architecture: {'; '.join(problems)}; "
            "build the model with the settings it was saved with"
        )
    model.load_state_dict(state)


def _metadata_sha256(document: dict[str, Any]) -> str:
    """The SHA-256 of ``model.json``'s content but its own checksum, in a canonical form."""
    content = {k: v for k, v in document.items() if k != "metadata_sha256"}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


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
