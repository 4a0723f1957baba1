"""``predict_run``: predictions of a finished run on a file of raw features."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch
from torch import nn

from ..data.loading import read_features
from ..errors import ConfigError, MlpkitError
from ..inference.prediction import Predictions, predict
from ..io.weights import load_model
from .saved import saved_inputs, saved_preprocessing

if TYPE_CHECKING:
    from ..export.engines import EnginePredictor


def predict_run(
    run_dir: str | Path,
    inputs: str | Path,
    top_k: int = 1,
    engine: str = "torch",
    compile: bool = False,
) -> pd.DataFrame:
    """Predictions of a finished run on a CSV / TSV / Parquet / NPY / NPZ file of features.

    The file goes through the preprocessing saved with the model; regression values come back
    in the target's original units. ``engine`` pt2, torchscript or onnx runs the run's export
    (``mlpkit export``) instead of the eager model, for the same predictions; ``compile``
    compiles the eager model (where compiling fails: a warning, then the eager model).
    """
    predictor = open_predictor(run_dir, engine, compile)
    raw = read_features(inputs, predictor.preprocessor, predictor.metadata.get("target"))
    return predictor(raw, top_k, Path(inputs).name).to_frame()


def open_predictor(
    run_dir: str | Path, engine: str = "torch", compile: bool = False
) -> EagerPredictor | EnginePredictor:
    """What ``predict_run`` predicts with, kept open for many calls on raw features (a table
    or an array, as ``read_features`` returns them): the eager model, or the run's export.

    >>> predictor = open_predictor("runs/iris", engine="onnx")  # doctest: +SKIP
    >>> predictor(rows, top_k=1).classes  # doctest: +SKIP
    """
    model, metadata = load_model(run_dir)
    if engine == "torch":
        return EagerPredictor(model, metadata, compile)
    if compile:
        raise ConfigError(f"--compile is for the eager model (engine torch), not {engine}")
    saved_preprocessing(metadata)  # checked against the model, as for the eager model
    from ..export.engines import EnginePredictor

    return EnginePredictor(run_dir, metadata, engine)


class EagerPredictor:
    """The run's model in PyTorch behind its saved preprocessing (NumPy), as ``mlpkit predict
    --engine torch`` runs it."""

    def __init__(self, model: nn.Module, metadata: dict[str, Any], compile: bool = False) -> None:
        self.model, self.metadata, self.compile = model, metadata, compile
        self.preprocessor, self.target_scaler = saved_preprocessing(metadata)
        self.inputs = saved_inputs(metadata, self.preprocessor)

    def __call__(self, raw: Any, top_k: int = 1, source: str = "the data") -> Predictions:
        predictions = predict_compiled(
            self.model,
            self.inputs(raw, source),
            self.compile,
            top_k=top_k,
            class_names=self.metadata.get("class_names"),
            task=self.metadata["task"],
        )
        if self.target_scaler is not None and predictions.values is not None:
            predictions.values = self.target_scaler.inverse_transform(predictions.values)
        return predictions


def predict_compiled(model: nn.Module, X: Any, compile: bool, **options: Any) -> Predictions:
    """``predict``, through ``torch.compile`` if asked; where compiling fails, a warning and the
    eager model (whose own errors then surface as they are)."""
    if compile:
        try:
            return predict(torch.compile(model, dynamic=True), X, **options)
        except MlpkitError:
            raise
        except Exception as exc:  # compiler failures take many types (backend, C++ toolchain)
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            warnings.warn(
                f"torch.compile failed ({reason}); predicting with the model uncompiled. "
                "Install a C++ compiler (Inductor needs one on a CPU) or leave out --compile",
                RuntimeWarning,
                stacklevel=2,
            )
    return predict(model, X, **options)
