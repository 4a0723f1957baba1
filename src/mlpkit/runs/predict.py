"""``predict_run``: predictions of a finished run on a file of raw features."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from ..data.loading import read_features
from ..errors import ConfigError, MlpkitError
from ..inference.prediction import Predictions, predict
from ..io.weights import load_model
from .saved import saved_inputs, saved_preprocessing


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
    model, metadata = load_model(run_dir)
    preprocessor, target_scaler = saved_preprocessing(metadata)
    raw = read_features(inputs, preprocessor, metadata.get("target"))
    if engine != "torch":
        if compile:
            raise ConfigError(f"--compile is for the eager model (engine torch), not {engine}")
        from ..export.engines import engine_predictions

        found = engine_predictions(run_dir, raw, metadata, engine, top_k, Path(inputs).name)
        return found.to_frame()
    predictions = predict_compiled(
        model,
        saved_inputs(metadata, preprocessor)(raw, Path(inputs).name),
        compile,
        top_k=top_k,
        class_names=metadata.get("class_names"),
        task=metadata["task"],
    )
    if target_scaler is not None and predictions.values is not None:
        predictions.values = target_scaler.inverse_transform(predictions.values)
    return predictions.to_frame()


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
