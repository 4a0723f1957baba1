"""Prediction engines: a run's exported files, loaded and run in batches.

``mlpkit predict RUN --engine onnx|pt2|torchscript`` reads the export a run's ``mlpkit export``
wrote; an export made from other weights than the run's current ones is refused rather than
used, since it would predict for a model that is no longer there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..data.preprocess import Preprocessor
from ..data.source import Features
from ..errors import ConfigError, ExportError
from ..inference.prediction import Predictions, ranked
from . import format_module
from .inputs import InputLayout, graph_inputs
from .manifest import read_manifest, sha256
from .verify import Engine

ENGINES = ("torch", "pt2", "torchscript", "onnx")
BATCH_ROWS = 4096  # rows per call: large batches are fast, and memory stays bounded


def open_engine(run_dir: str | Path, engine: str, weights_sha256: str | None) -> Engine:
    """The run's exported model for ``engine`` (pt2, torchscript or onnx), checked to come
    from the run's current weights and to be the file the manifest verified."""
    if engine not in ENGINES or engine == "torch":
        raise ConfigError(
            f"unknown engine {engine!r} for an exported model; choose one of: "
            f"{', '.join(ENGINES[1:])} (or torch, the eager model)"
        )
    module = format_module(engine)
    folder = Path(run_dir) / "export"
    path = folder / module.FILE
    again = f"run: mlpkit export {run_dir} --format {engine}"
    if not path.is_file():
        raise ExportError(f"{run_dir} has no {engine} export ({path} is missing); {again}")
    manifest = read_manifest(folder) or {}
    entry = (manifest.get("files") or {}).get(engine) or {}
    if manifest.get("weights_sha256") != weights_sha256:
        raise ExportError(f"{path} was exported from other weights than {run_dir}'s model; {again}")
    if entry.get("sha256") != sha256(path):
        raise ExportError(f"{path} is not the file export/manifest.json verified; {again}")
    return module.load(path)


def run_batched(run: Engine, inputs: dict[str, np.ndarray], rows: int = BATCH_ROWS) -> np.ndarray:
    """``run`` over all rows of ``inputs``, ``rows`` at a time, as one array."""
    count = len(next(iter(inputs.values())))
    if 0 < count <= rows:  # one call on the arrays as they are: no slice, no concatenation
        return run({name: np.ascontiguousarray(a) for name, a in inputs.items()})
    parts = [
        run({name: np.ascontiguousarray(a[start : start + rows]) for name, a in inputs.items()})
        for start in range(0, count, rows)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


class EnginePredictor:
    """A run's exported model as ``mlpkit predict --engine`` runs it: raw features encoded
    (``graph_inputs``), the engine over them, its outputs read as ``Predictions``. The engine
    is opened at the first call, after the first rows passed their checks, and then kept, so
    that a server pays for opening it once.

    >>> predictor = EnginePredictor("runs/iris", metadata, "onnx")  # doctest: +SKIP
    >>> predictor(rows, top_k=2).labels  # doctest: +SKIP
    """

    def __init__(self, run_dir: str | Path, metadata: dict[str, Any], engine: str) -> None:
        self.run_dir, self.metadata, self.engine = run_dir, metadata, engine
        self.preprocessor = Preprocessor.from_dict(metadata["preprocessing"])
        self.layout = InputLayout.of(self.preprocessor)  # once, not per call
        self._run: Engine | None = None

    def __call__(self, raw: Features, top_k: int = 1, source: str = "the data") -> Predictions:
        inputs = graph_inputs(raw, self.preprocessor, source, self.layout)
        if self._run is None:
            self._run = open_engine(self.run_dir, self.engine, self.metadata.get("weights_sha256"))
        outputs = run_batched(self._run, inputs)
        if self.metadata["task"] == "regression":
            return Predictions("regression", values=outputs.reshape(len(outputs), -1))
        return ranked(outputs, top_k, self.metadata.get("class_names"))


def engine_predictions(
    run_dir: str | Path,
    raw: Features,
    metadata: dict[str, Any],
    engine: str,
    top_k: int = 1,
    source: str = "the data",
) -> Predictions:
    """Predictions of a run's exported model on raw features, as ``mlpkit.predict`` gives them
    for the eager model: top-k classes with names and probabilities, or original-unit values."""
    return EnginePredictor(run_dir, metadata, engine)(raw, top_k, source)
