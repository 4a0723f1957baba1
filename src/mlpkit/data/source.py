"""What every data source returns: arrays plus what is known about them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Task = Literal["classification", "regression"]


@dataclass
class LoadedData:
    """A data set as arrays, before splitting and scaling.

    ``X`` is float32 ``(n, features)`` (images flattened); ``y`` is int64 class indices for
    classification or float32 ``(n,)`` / ``(n, targets)`` for regression. ``test`` holds the data
    set's official test split ``(X, y)`` where it has one, and ``val_size`` its customary
    validation size (Fashion-MNIST: 5,000 of the 60,000 training images).
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    task: Task
    feature_names: list[str] = field(default_factory=list)
    class_names: list[str] | None = None
    image_shape: tuple[int, ...] | None = None
    test: tuple[np.ndarray, np.ndarray] | None = None
    val_size: int | None = None  # the data set's customary validation size, if it has one
    description: str = ""

    def __post_init__(self) -> None:
        if not self.feature_names:
            self.feature_names = [f"x{i}" for i in range(self.X.shape[1])]

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_outputs(self) -> int:
        """Output units a model needs: classes for classification, targets for regression."""
        if self.task == "classification":
            return len(self.class_names) if self.class_names else int(self.y.max()) + 1
        return 1 if self.y.ndim == 1 else int(self.y.shape[1])
