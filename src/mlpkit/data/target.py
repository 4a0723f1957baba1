"""Regression targets standardised for training, reported in their original units.

With ``scale_target`` the model learns ``(y - mean) / std`` (fitted on the training part), which
keeps the loss and its gradients well scaled whatever the units of ``y``. Everything a user reads
is in the original units: metrics (train and validation in the history, test metrics,
``evaluate``) are computed on un-scaled outputs and targets through ``TargetScaler.metrics``, and
predictions are un-scaled before they are returned. The loss alone stays in the scaled units,
because it is what the model minimises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .preprocess import Standardizer


class TargetScaler:
    """Standardises regression targets ``(n,)`` or ``(n, k)`` and undoes it.

    >>> s = TargetScaler.fit(np.array([1.0, 3.0]))
    >>> s.transform(np.array([3.0])).tolist(), s.inverse_transform(np.array([[1.0]])).tolist()
    ([1.0], [[3.0]])
    """

    def __init__(self, standardizer: Standardizer) -> None:
        self.standardizer = standardizer

    @classmethod
    def fit(cls, y: np.ndarray) -> TargetScaler:
        y = np.asarray(y, dtype=np.float64)
        return cls(Standardizer.fit(y.reshape(len(y), -1)))

    def transform(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y)
        return self.standardizer.transform(y.reshape(len(y), -1)).reshape(y.shape)

    def inverse_transform(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values)
        return self.standardizer.inverse_transform(values.reshape(len(values), -1)).reshape(
            values.shape
        )

    def metrics(self, metrics: Sequence[str | Callable[..., Any]]) -> list[Any]:
        """The same metrics, computed on outputs and targets in the original units."""
        import torch

        from ..metrics import Metric, get_metrics

        mean = torch.as_tensor(self.standardizer.mean, dtype=torch.float32)
        scale = torch.as_tensor(self.standardizer.scale, dtype=torch.float32)

        def original(values: torch.Tensor) -> torch.Tensor:
            shaped = values.float().reshape(len(values), -1)
            unscaled = shaped * scale.to(values.device) + mean.to(values.device)
            return unscaled.reshape(values.shape)

        def wrap(metric: Metric) -> Metric:
            return Metric(
                metric.name, lambda out, target: metric.compute(original(out), original(target))
            )

        return [wrap(m) for m in get_metrics(metrics)]

    def to_dict(self) -> dict[str, Any]:
        return self.standardizer.to_dict()

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> TargetScaler:
        return cls(Standardizer.from_dict(state))
