"""Train / validation / test splits, stratified for classification and seeded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, DataError
from .source import LoadedData


@dataclass
class Split:
    """Row indices of each part into the data set's arrays (``test`` may index ``data.test``)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_indices(
    data: LoadedData, val_fraction: float = 0.15, test_fraction: float = 0.15, seed: int = 0
) -> Split:
    """Seeded train / validation / test indices (default 70 / 15 / 15).

    A data set with an official test split keeps it, and its customary validation size is used.

    >>> from mlpkit.data.builtin import BUILTIN
    >>> parts = split_indices(BUILTIN.get("iris")(), 0.2, 0.2)
    >>> len(parts.train), len(parts.val), len(parts.test)
    (90, 30, 30)
    """
    from sklearn.model_selection import train_test_split

    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"{name} must be in [0, 1), got {value}")
    if val_fraction + test_fraction >= 1.0:
        raise ConfigError("val_fraction + test_fraction must leave some data for training")
    n = len(data.X)
    stratify = data.y if data.task == "classification" else None
    rows = np.arange(n)
    test = np.arange(0)
    if data.test is None and test_fraction > 0:
        rows, test = _cut(rows, stratify, test_fraction, seed, train_test_split)
    val = np.arange(0)
    val_size: float | int = val_fraction / (1.0 - (0 if data.test is not None else test_fraction))
    if data.test is not None and data.val_size:
        val_size = data.val_size
    if val_fraction > 0:
        sub = None if stratify is None else stratify[rows]
        rows, val = _cut(rows, sub, val_size, seed, train_test_split)
    return Split(np.sort(rows), np.sort(val), np.sort(test))


def _cut(rows, labels, size, seed, train_test_split):
    try:
        return train_test_split(rows, test_size=size, random_state=seed, stratify=labels)
    except ValueError as exc:
        if labels is None:
            raise DataError(f"cannot split {len(rows)} samples: {exc}") from None
        # Too few samples of some class to stratify: fall back to a plain random split.
        counts = np.bincount(labels)
        if counts[counts > 0].min() >= 2:
            raise DataError(f"cannot split {len(rows)} samples: {exc}") from None
        return train_test_split(rows, test_size=size, random_state=seed)
