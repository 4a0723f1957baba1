"""Preprocessing fitted on the training part only and stored with the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DataError


@dataclass
class Standardizer:
    """Feature standardisation ``(x - mean) / std``; constant features keep a scale of 1.

    >>> s = Standardizer.fit(np.array([[0.0], [2.0]]))
    >>> s.transform(np.array([[2.0]]))
    array([[1.]], dtype=float32)
    """

    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scale: np.ndarray = field(default_factory=lambda: np.ones(0))

    @classmethod
    def fit(cls, X: np.ndarray) -> Standardizer:
        X = np.asarray(X, dtype=np.float64)
        scale = X.std(axis=0)
        scale[scale < 1e-12] = 1.0
        return cls(X.mean(axis=0), scale)

    @classmethod
    def identity(cls, n_features: int) -> Standardizer:
        return cls(np.zeros(n_features), np.ones(n_features))

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != len(self.mean):
            got = X.shape[1] if X.ndim == 2 else X.shape
            raise DataError(
                f"expected {len(self.mean)} features per row but got {got}; "
                "give the same feature columns the model was trained on"
            )
        return ((X - self.mean) / self.scale).astype(np.float32)

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X) * self.scale + self.mean).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Standardizer:
        return cls(np.asarray(state["mean"], dtype=np.float64), np.asarray(state["scale"]))
