"""A trained model's predictions on one prepared part (test, else validation, else training),
in the forms the plots take: class probabilities, or values in the target's original units."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.prepare import ModelInputs
from ..inference.prediction import predict

MAX_ROWS = 20_000  # of a streamed part: enough for every plot, and quick to predict


@dataclass
class PartPredictions:
    """``part`` names the set; ``y`` its targets (original units); ``outputs`` the model's class
    probabilities ``(n, classes)`` or predicted values ``(n, targets)``; ``inputs`` the model
    inputs (an array, or a dict of input groups)."""

    part: str
    y: np.ndarray
    outputs: np.ndarray
    inputs: Any


def chosen_part(prepared: Any) -> tuple[str, Any]:
    for name, part in (("test", prepared.test), ("validation", prepared.val)):
        if part is not None:
            return name, part
    return "training", prepared.train


def _in_memory(part: Any) -> tuple[Any, np.ndarray]:
    if isinstance(part, tuple):
        return part
    inputs, y = part[list(range(min(len(part), MAX_ROWS)))]  # a streamed ``ArrayRows``
    return inputs, np.asarray(y)


def model_outputs(model: Any, inputs: Any, task: str, classes: int) -> np.ndarray:
    """Class probabilities ``(n, classes)`` or values ``(n, targets)`` (model units)."""
    if task == "regression":
        return predict(model, inputs, task="regression").values  # type: ignore[return-value]
    found = predict(model, inputs, top_k=classes, task="classification")
    full = np.zeros((len(found.classes), classes))  # type: ignore[arg-type]
    np.put_along_axis(full, found.classes, found.probabilities, axis=1)  # type: ignore[arg-type]
    return full


def part_predictions(model: Any, prepared: Any) -> PartPredictions:
    """The model's predictions on the test part (else validation, else training)."""
    source = prepared.source
    name, part = chosen_part(prepared)
    inputs, y = _in_memory(part)
    outputs = model_outputs(model, inputs, source.task, source.n_outputs)
    y = np.asarray(y)
    if source.task == "regression" and prepared.target_scaler is not None:
        outputs = prepared.target_scaler.inverse_transform(outputs.reshape(len(y), -1))
        y = prepared.target_scaler.inverse_transform(y)
    return PartPredictions(name, y, outputs, inputs)


def raw_predictor(model: Any, prepared: Any):
    """``raw points -> outputs`` for points in the data's own feature units (the plots' grids
    over one or two features): preprocessed as the model's inputs were, then predicted."""
    source = prepared.source
    inputs = ModelInputs(prepared.preprocessor, prepared.groups, "the plot grid")

    def outputs(points: np.ndarray) -> np.ndarray:
        import pandas as pd

        raw: Any = points.astype(np.float32)
        if isinstance(source.X, pd.DataFrame):
            raw = pd.DataFrame(points, columns=source.X.columns)
        values = model_outputs(model, inputs(raw), source.task, source.n_outputs)
        if source.task == "regression" and prepared.target_scaler is not None:
            values = prepared.target_scaler.inverse_transform(values)
        return values

    return outputs
