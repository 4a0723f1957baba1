"""ONNX: the torch.export-based exporter (``torch.onnx.export(..., dynamo=True)``), one
self-contained file (weights inside, no ``.onnx.data`` beside it), ``onnx.checker`` clean, the
batch dimension dynamic; run with ONNX Runtime.

A run with quantile scaling is refused: its graph needs the inverse error function and a
sorted search, which ONNX has no operators for (pt2 and TorchScript export it).

Needs the ``export`` extra (onnx, onnxscript, onnxruntime): ``pip install 'mlpkit[export]'``.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ExportError, require

FILE = "model.onnx"
NEEDS = ("onnx", "onnxscript", "onnxruntime")


def serialize(
    serving: nn.Module, example: dict[str, torch.Tensor], spec: dict[str, Any], opset: int | None
) -> tuple[bytes, dict[str, Any]]:
    """The ONNX file's bytes, checked, with the export's ``model.json`` in its metadata."""
    if getattr(serving, "quantile", False):
        raise ExportError(
            "the run's quantile scaling cannot be exported to onnx; retrain with "
            "--numeric-scaling robust or standard"
        )
    onnx = require("onnx", "export")
    require("onnxscript", "export")
    batch = torch.export.Dim("batch", min=1)
    with _quiet_exporter():
        program = torch.onnx.export(
            serving,
            (),
            kwargs=example,
            input_names=list(example),
            output_names=[spec["output"]["name"]],
            dynamic_shapes={name: {0: batch} for name in example},
            opset_version=opset,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    proto = program.model_proto
    onnx.helper.set_model_props(proto, {"mlpkit": json.dumps(spec)})
    onnx.checker.check_model(proto, full_check=True)
    opsets = {o.domain or "ai.onnx": o.version for o in proto.opset_import}
    return proto.SerializeToString(), {"opset": opsets.get("ai.onnx")}


def load(path: Path):
    """An ONNX Runtime session on the file, as a function of the graph's named inputs."""
    ort = require("onnxruntime", "export")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no notes about unused initialisers
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        return session.run(None, inputs)[0]

    return run


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter's own notes (the torchvision operators it skips, remarks on torch's
    internals) stay out of the command's output; its errors still surface as exceptions."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # Notes about torch's own internals, nothing a user can act on.
            warnings.filterwarnings("ignore", message="# The axis name")
            warnings.filterwarnings("ignore", message=".*isinstance.treespec, LeafSpec")
            yield
    finally:
        logger.setLevel(level)
