"""Prediction: top-k classes with names and probabilities, or values for regression."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from ..data.batching import to_tensor
from ..errors import ConfigError
from ..nested import map_structure, primary
from .evaluation import EVAL_BATCH_SIZE, infer


@dataclass
class Predictions:
    """What ``predict`` returns.

    Classification: ``classes`` and ``probabilities`` are ``(n, k)``, best first, and ``labels``
    holds the class names. Regression: ``values`` is ``(n, outputs)``.
    """

    task: str
    classes: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    labels: np.ndarray | None = None
    values: np.ndarray | None = None

    def to_frame(self):
        """One row per sample: ``class_1, probability_1, ...`` or ``prediction_1, ...``."""
        import pandas as pd

        if self.task == "regression":
            assert self.values is not None
            if self.values.shape[1] == 1:
                return pd.DataFrame({"prediction": self.values[:, 0]})
            columns = {
                f"prediction_{i + 1}": self.values[:, i] for i in range(self.values.shape[1])
            }
            return pd.DataFrame(columns)
        assert self.classes is not None and self.probabilities is not None
        columns: dict[str, Any] = {}
        for rank in range(self.classes.shape[1]):
            suffix = "" if self.classes.shape[1] == 1 else f"_{rank + 1}"
            columns[f"class{suffix}"] = self.labels[:, rank] if self.labels is not None else None
            columns[f"class_index{suffix}"] = self.classes[:, rank]
            columns[f"probability{suffix}"] = self.probabilities[:, rank]
        return pd.DataFrame(columns)


def predict(
    model: nn.Module,
    X: Any,
    *,
    top_k: int = 1,
    class_names: Sequence[str] | None = None,
    task: Literal["auto", "classification", "regression"] = "auto",
    batch_size: int = EVAL_BATCH_SIZE,
) -> Predictions:
    """Predict with a trained model on features ``X`` (an array, tensor, tuple or dict).

    ``task="auto"`` means classification when class names are given or the model has more than
    one output (pass ``task="regression"`` for a model with several regression targets).

    >>> p = predict(model, X_new, top_k=3, class_names=["cat", "dog", "bird"])  # doctest: +SKIP
    >>> p.labels[0], p.probabilities[0]
    """
    if top_k < 1:
        raise ConfigError(f"top_k must be at least 1, got {top_k}")
    device = next(model.parameters()).device
    inputs = map_structure(lambda a: to_tensor(a).to(device), X)
    count = len(primary(inputs) if isinstance(inputs, (dict, tuple, list)) else inputs)
    batches = [
        (map_structure(lambda t, rows=slice(start, start + batch_size): t[rows], inputs), None)
        for start in range(0, count, batch_size)
    ]
    _, outputs, _ = infer(model, batches)
    outputs = primary(outputs).float()
    if task == "auto":
        task = "classification" if class_names or outputs.shape[-1] > 1 else "regression"
    if task == "regression":
        return Predictions(task, values=outputs.reshape(count, -1).cpu().numpy())
    return ranked(class_probabilities(outputs), top_k, class_names)


def class_probabilities(outputs: torch.Tensor) -> torch.Tensor:
    """A classifier's outputs as ``(n, classes)`` probabilities: a softmax, or for one sigmoid
    unit (two classes) its complement and itself."""
    if outputs.ndim == 1 or outputs.shape[-1] == 1:
        positive = torch.sigmoid(outputs.reshape(-1))
        return torch.stack([1 - positive, positive], dim=1)
    return torch.softmax(outputs, dim=-1)


def ranked(
    probabilities: torch.Tensor | np.ndarray,
    top_k: int = 1,
    class_names: Sequence[str] | None = None,
) -> Predictions:
    """The ``top_k`` classes of each row, best first (of equal probabilities, the lower class
    index first), with their names and probabilities."""
    if top_k < 1:
        raise ConfigError(f"top_k must be at least 1, got {top_k}")
    # NumPy, not torch.topk: for one row, torch's call costs more than the rest of the ranking.
    if isinstance(probabilities, torch.Tensor):
        probabilities = probabilities.detach().cpu().numpy()
    k = min(top_k, probabilities.shape[1])
    if k == 1:  # the maximum is the very value argmax points at
        classes = probabilities.argmax(axis=1).reshape(-1, 1)
        best = probabilities.max(axis=1, keepdims=True)
    else:
        classes = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
        best = np.take_along_axis(probabilities, classes, axis=1)
    labels = None
    if class_names is not None:
        if len(class_names) != probabilities.shape[1]:
            raise ConfigError(
                f"got {len(class_names)} class names for a model with "
                f"{probabilities.shape[1]} classes; give one name per class"
            )
        labels = np.asarray(list(class_names), dtype=object)[classes]
    return Predictions("classification", classes.astype(np.int64, copy=False), best, labels)
