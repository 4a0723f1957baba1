"""Train / validation / test splits, stratified for classification and seeded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, DataError
from .source import LoadedData

DEFAULT_FRACTION = 0.15


@dataclass
class Split:
    """Row indices of each part into ``data.X``; a part that comes separately (``data.val``,
    ``data.test``: separate files or an official test split) has no indices here."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_indices(
    data: LoadedData,
    val_fraction: float | None = None,
    test_fraction: float | None = None,
    seed: int = 0,
) -> Split:
    """Seeded train / validation / test indices (default 70 / 15 / 15), stratified by class.

    Separate validation and test parts are kept and not cut again. A data set with an official
    test split and a customary validation size (Fashion-MNIST: 10,000 and 5,000) uses both
    unless ``val_fraction`` is given. Fractions are of the whole data.

    >>> from mlpkit.data.builtin import BUILTIN
    >>> parts = split_indices(BUILTIN.get("iris")(), 0.2, 0.2)
    >>> len(parts.train), len(parts.val), len(parts.test)
    (90, 30, 30)
    """
    from sklearn.model_selection import train_test_split

    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if value is not None and not 0.0 <= value < 1.0:
            raise ConfigError(f"{name} must be in [0, 1), got {value}")
    n = len(data)
    test_cut = 0.0 if data.test is not None else _or_default(test_fraction)
    val_cut: float | int = 0.0 if data.val is not None else _or_default(val_fraction)
    if test_cut + val_cut >= 1.0:
        raise ConfigError(
            f"val_fraction + test_fraction = {val_cut + test_cut:g} leaves no data for "
            "training; make them sum to less than 1"
        )
    stratify = data.y if data.task == "classification" else None
    rows, test = np.arange(n), np.arange(0)
    if test_cut > 0:
        rows, test = _cut(rows, stratify, _count(test_cut, n), seed, train_test_split)
    val = np.arange(0)
    if val_cut > 0:
        size = _count(val_cut, n)
        customary = data.val_size if data.test is not None and val_fraction is None else None
        if customary and customary < len(rows):
            size = customary
        sub = None if stratify is None else stratify[rows]
        rows, val = _cut(rows, sub, size, seed, train_test_split)
    if len(rows) == 0:
        raise DataError(f"no training samples are left of {n}; lower val_fraction/test_fraction")
    return Split(np.sort(rows), np.sort(val), np.sort(test))


def _or_default(fraction: float | None) -> float:
    return DEFAULT_FRACTION if fraction is None else fraction


def _count(fraction: float, n: int) -> int:
    # Whole counts of the whole data: 0.2 of 300 is 60, whatever was cut before.
    return max(1, round(fraction * n))


def _cut(rows, labels, size, seed, train_test_split):
    if labels is not None:
        try:
            return train_test_split(rows, test_size=size, random_state=seed, stratify=labels)
        except ValueError:
            pass  # a class too rare to stratify, or fewer rows than classes: split at random
    try:
        return train_test_split(rows, test_size=size, random_state=seed)
    except ValueError as exc:
        raise DataError(
            f"cannot split {len(rows)} samples: {exc}; give more data or other fractions"
        ) from None
