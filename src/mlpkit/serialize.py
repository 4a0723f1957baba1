"""Saved models: weights in safetensors, everything else in a JSON file beside them.

``model.json`` holds the architecture, preprocessing statistics, class names, task and the
mlpkit and torch versions, so ``load_model`` rebuilds the model without any pickled code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from .checkpoint import atomic_write
from .errors import CheckpointError, DataNotFoundError
from .models import MLP

WEIGHTS = "model.safetensors"
METADATA = "model.json"


def save_model(folder: str | Path, model: MLP, metadata: dict[str, Any]) -> None:
    """Write ``model.safetensors`` and ``model.json`` into ``folder`` (each atomically)."""
    from safetensors.torch import save

    from . import __version__

    folder = Path(folder)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    document = {
        "format": "mlpkit-model/1",
        "architecture": {"type": "MLP", **model.arguments()},
        **metadata,
        "versions": {"mlpkit": __version__, "torch": torch.__version__},
    }
    atomic_write(folder / WEIGHTS, lambda f: f.write(save(state)))
    text = json.dumps(document, indent=2, default=_plain)
    atomic_write(folder / METADATA, lambda f: f.write(text.encode()))


def load_model(folder: str | Path, device: str | torch.device = "cpu") -> tuple[MLP, dict]:
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
    if architecture.pop("type", None) != "MLP":
        raise CheckpointError(f"{metadata_path} does not describe an mlpkit MLP")
    model = MLP(**architecture)
    try:
        state = load_file(weights, device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{weights} is truncated or corrupted ({str(exc).splitlines()[0]}); retrain the run"
        ) from None
    load_model_state(model, state, source=str(weights))
    return model.to(device).eval(), metadata


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
