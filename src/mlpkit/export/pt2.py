"""pt2: ``torch.export.export`` with a dynamic batch, saved with ``torch.export.save`` and run
from ``torch.export.load(path).module()``, in Python without the model's source code."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .inputs import as_tensors

FILE = "model.pt2"
NEEDS: tuple[str, ...] = ()


def serialize(
    serving: nn.Module, example: dict[str, torch.Tensor], spec: dict[str, Any], opset: int | None
) -> tuple[bytes, dict[str, Any]]:
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(
        serving, (), kwargs=example, dynamic_shapes={name: {0: batch} for name in example}
    )
    buffer = io.BytesIO()
    torch.export.save(program, buffer, extra_files={"mlpkit.json": json.dumps(spec)})
    return buffer.getvalue(), {}


def load(path: Path):
    module = torch.export.load(str(path)).module()

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        with torch.no_grad():
            return module(**as_tensors(inputs)).numpy()

    return run
