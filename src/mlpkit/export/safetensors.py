"""safetensors + JSON: every tensor of the exported module (weights, and the preprocessing's
statistics and code tables) in one safetensors file, the architecture and input layout in its
header and in ``model.json`` beside it; loaded without pickle and run eagerly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError
from ..io.weights import load_model_state
from ..models import ARCHITECTURES
from .serving import Serving, build_serving

FILE = "model.safetensors"
NEEDS: tuple[str, ...] = ()


def serialize(
    serving: nn.Module, example: dict[str, torch.Tensor], spec: dict[str, Any], opset: int | None
) -> tuple[bytes, dict[str, Any]]:
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in serving.state_dict().items()}
    return save(state, metadata={"mlpkit": json.dumps(spec)}), {}


def load_serving(path: str | Path) -> Serving:
    """The exported module rebuilt from the file alone (its header holds ``model.json``).

    >>> serving = load_serving("runs/digits/export/model.safetensors")  # doctest: +SKIP
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as file:
        header = file.metadata() or {}
    try:
        spec = json.loads(header["mlpkit"])
        architecture = dict(spec["architecture"])
        model = ARCHITECTURES[architecture.pop("type")](**architecture)
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"{path} has no usable mlpkit header ({exc}); export the run again"
        ) from None
    serving = build_serving(model, spec)
    load_model_state(serving, load_file(str(path)), source=str(path))
    return serving.eval()


def load(path: Path):
    serving = load_serving(path)

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        with torch.no_grad():
            return serving(**{k: torch.from_numpy(v) for k, v in inputs.items()}).numpy()

    return run
