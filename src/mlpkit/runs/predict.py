"""``predict_run``: predictions of a finished run on a file of raw features."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..data.loading import read_features
from ..inference.prediction import predict
from ..io.weights import load_model
from .saved import saved_inputs, saved_preprocessing


def predict_run(run_dir: str | Path, inputs: str | Path, top_k: int = 1) -> pd.DataFrame:
    """Predictions of a finished run on a CSV / TSV / Parquet / NPY / NPZ file of features.

    The file goes through the preprocessing saved with the model; regression values come back
    in the target's original units.
    """
    model, metadata = load_model(run_dir)
    preprocessor, target_scaler = saved_preprocessing(metadata)
    raw = read_features(inputs, preprocessor, metadata.get("target"))
    predictions = predict(
        model,
        saved_inputs(metadata, preprocessor)(raw, Path(inputs).name),
        top_k=top_k,
        class_names=metadata.get("class_names"),
        task=metadata["task"],
    )
    if target_scaler is not None and predictions.values is not None:
        predictions.values = target_scaler.inverse_transform(predictions.values)
    return predictions.to_frame()
