"""What every data source returns: raw features and targets plus what is known about them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

Task = Literal["classification", "regression"]
# Raw features: a numeric array (n, features), possibly memory-mapped, or a table whose columns
# are encoded only after the split, by a ``Preprocessor`` fitted on the training part.
Features = np.ndarray | pd.DataFrame


def take_rows(X: Features, rows: np.ndarray | slice) -> Features:
    """Rows of an array or a table, by position.

    >>> take_rows(pd.DataFrame({"a": [1, 2, 3]}), np.array([2, 0]))["a"].tolist()
    [3, 1]
    """
    if isinstance(X, pd.DataFrame):
        return X.iloc[rows]
    return X[rows]


@dataclass
class LoadedData:
    """A data set as loaded, before splitting and preprocessing.

    ``X`` holds the raw features: a float32 array ``(n, features)`` (images flattened; an NPY
    file stays memory-mapped) or, for tables, the DataFrame of feature columns as read (text,
    categories and missing values included). ``y`` is int64 class indices for classification or
    float32 ``(n,)`` / ``(n, targets)`` for regression. ``val`` and ``test`` hold separate
    validation and test parts ``(X, y)`` where there are some (separate files, or a data set's
    official test split), and ``val_size`` the data set's customary validation size
    (Fashion-MNIST: 5,000 of the 60,000 training images).
    """

    name: str
    X: Features
    y: np.ndarray
    task: Task
    feature_names: list[str] = field(default_factory=list)
    class_names: list[str] | None = None
    image_shape: tuple[int, ...] | None = None
    test: tuple[Features, np.ndarray] | None = None
    val_size: int | None = None  # the data set's customary validation size, if it has one
    description: str = ""
    val: tuple[Features, np.ndarray] | None = None
    target: str | None = None  # the target column of a table

    def __post_init__(self) -> None:
        if isinstance(self.X, pd.DataFrame):
            self.feature_names = [str(c) for c in self.X.columns]
        elif not self.feature_names:
            self.feature_names = [f"x{i}" for i in range(self.X.shape[1])]

    def __len__(self) -> int:
        return len(self.X)

    @property
    def n_features(self) -> int:
        """Raw feature columns (one-hot encoding may widen them for the model)."""
        return int(self.X.shape[1])

    @property
    def n_outputs(self) -> int:
        """Output units a model needs: classes for classification, targets for regression."""
        if self.task == "classification":
            return len(self.class_names) if self.class_names else int(self.y.max()) + 1
        return 1 if self.y.ndim == 1 else int(self.y.shape[1])
