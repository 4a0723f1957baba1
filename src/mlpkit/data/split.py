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
        rows, test = _cut(rows, stratify, _count(test_cut, n), seed)
    val = np.arange(0)
    if val_cut > 0:
        size = _count(val_cut, n)
        customary = data.val_size if data.test is not None and val_fraction is None else None
        if customary and customary < len(rows):
            size = customary
        sub = None if stratify is None else stratify[rows]
        rows, val = _cut(rows, sub, size, seed)
    if len(rows) == 0:
        raise DataError(f"no training samples are left of {n}; lower val_fraction/test_fraction")
    return Split(np.sort(rows), np.sort(val), np.sort(test))


def _or_default(fraction: float | None) -> float:
    return DEFAULT_FRACTION if fraction is None else fraction


def _count(fraction: float, n: int) -> int:
    # Whole counts of the whole data: 0.2 of 300 is 60, whatever was cut before.
    return max(1, round(fraction * n))


def _cut(
    rows: np.ndarray, labels: np.ndarray | None, size: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``size`` of ``rows`` set aside, in proportion to each class where ``labels`` are given.

    The draws are those of scikit-learn's ``train_test_split(rows, test_size=size,
    random_state=seed, stratify=labels)``, which mlpkit used before and whose splits every
    earlier run folder records by its seed (a test compares the two on many cases); this spares
    a run scikit-learn's import, about 3 s of its start.
    """
    if not 0 < size < len(rows):
        raise DataError(
            f"cannot split {len(rows)} samples into {len(rows) - size} and {size}; give more "
            "data or other fractions"
        )
    if labels is not None:
        stratified = _stratified_cut(labels, size, np.random.RandomState(seed))
        if stratified is not None:
            return rows[stratified[0]], rows[stratified[1]]
        # a class too rare to stratify, or fewer rows than classes: split at random
    order = np.random.RandomState(seed).permutation(len(rows))
    return rows[order[size:]], rows[order[:size]]


def _stratified_cut(
    labels: np.ndarray, size: int, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray] | None:
    """Positions of the kept and the set-aside rows, each class shared in proportion; None
    where a class has a single row or either part would have fewer rows than there are classes."""
    _, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    kept_size = len(labels) - size
    if counts.min() < 2 or min(kept_size, size) < len(counts):
        return None
    kept_counts = _proportional_counts(counts, kept_size, rng)
    aside_counts = _proportional_counts(counts - kept_counts, size, rng)
    by_class = np.split(np.argsort(codes, kind="stable"), np.cumsum(counts)[:-1])
    kept: list[int] = []
    aside: list[int] = []
    for positions, keep, set_aside in zip(by_class, kept_counts, aside_counts, strict=True):
        shuffled = positions[rng.permutation(len(positions))]
        kept.extend(shuffled[:keep])
        aside.extend(shuffled[keep : keep + set_aside])
    return rng.permutation(kept), rng.permutation(aside)


def _proportional_counts(counts: np.ndarray, total: int, rng: np.random.RandomState) -> np.ndarray:
    """``total`` shared among the classes in proportion to ``counts``: each class's share
    rounded down, then one more for the classes with the largest remainders (ties drawn)."""
    exact = counts / counts.sum() * total
    shares = np.floor(exact)
    missing = int(total - shares.sum())
    remainders = exact - shares
    for remainder in np.unique(remainders)[::-1]:
        if missing <= 0:
            break
        (tied,) = np.nonzero(remainders == remainder)
        chosen = rng.choice(tied, size=min(len(tied), missing), replace=False)
        shares[chosen] += 1
        missing -= len(chosen)
    return shares.astype(int)
