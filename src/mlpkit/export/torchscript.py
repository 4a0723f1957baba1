"""TorchScript, for LibTorch (C++) users: deprecated in torch 2.13 in favour of torch.export
(``pt2``), kept because LibTorch loads nothing else.

The module is scripted; where scripting fails it is traced instead, with a warning: a trace
records the operations of one example call, so branches on input values and Python-side
control flow are frozen to the example's path.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .inputs import as_tensors

FILE = "model.torchscript.pt"
NEEDS: tuple[str, ...] = ()


def serialize(
    serving: nn.Module, example: dict[str, torch.Tensor], spec: dict[str, Any], opset: int | None
) -> tuple[bytes, dict[str, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # said once, in the command's help
        try:
            module: Any = torch.jit.script(serving)
            method = "scripted"
        except Exception as exc:  # TorchScript refuses many Python constructs, each its own way
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            warnings.warn(
                f"TorchScript could not script the model ({reason}); traced it instead. A "
                "trace records one example call: branches on input values and Python control "
                "flow are frozen to that example's path",
                RuntimeWarning,
                stacklevel=2,
            )
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # said above, once
            module = torch.jit.trace(serving, example_kwarg_inputs=example, strict=False)
            method = "traced"
    buffer = io.BytesIO()
    torch.jit.save(module, buffer, _extra_files={"mlpkit.json": json.dumps(spec)})
    return buffer.getvalue(), {"method": method}


def load(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(path), map_location="cpu")

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        with torch.no_grad():
            return module(**as_tensors(inputs)).numpy()

    return run
