"""Which rows each fold holds out: stratified by class for classification, shuffled, seeded."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, DataError


def check_fold_count(folds: object) -> int:
    """``folds`` as a whole number of at least 2, or a one-line error with the fix.

    >>> check_fold_count(5)
    5
    """
    if not isinstance(folds, int) or isinstance(folds, bool) or folds < 2:
        raise ConfigError(
            f"cross-validation needs at least 2 folds, got {folds!r}; give e.g. --folds 5"
        )
    return folds


def assign_folds(
    y: np.ndarray, folds: int, seed: int = 0, *, stratify: bool = False, name: str = "the data"
) -> list[np.ndarray]:
    """The positions (into ``y``) each of the ``folds`` folds holds out, sorted; together they
    are every position once. Shuffled by ``seed``; with ``stratify`` (classification), each
    fold holds about the same share of every class (scikit-learn's ``StratifiedKFold``, else
    ``KFold``).

    >>> [f.tolist() for f in assign_folds(np.array([0, 0, 1, 1]), 2, stratify=True)]
    [[1, 2], [0, 3]]
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    folds = check_fold_count(folds)
    rows = len(y)
    if folds > rows:
        raise DataError(
            f"{folds} folds need at least {folds} rows, and {name} has {rows} to cut into "
            f"folds; give --folds {rows} or fewer"
        )
    if stratify:
        labels, counts = np.unique(np.asarray(y), return_counts=True)
        if counts.min() < folds:
            rare = labels[counts.argmin()]
            raise DataError(
                f"class {rare!r} of {name} has {counts.min()} rows, fewer than the {folds} "
                f"folds, so some fold would hold none of it; give --folds {counts.min()} or fewer"
            )
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(folds, shuffle=True, random_state=seed)
    return [np.sort(held) for _, held in splitter.split(np.zeros((rows, 1)), y)]


def training_rows(held_out: list[np.ndarray], rows: int) -> list[np.ndarray]:
    """Each fold's training positions: every position its fold does not hold out.

    >>> [t.tolist() for t in training_rows([np.array([0]), np.array([1, 2])], 3)]
    [[1, 2], [0]]
    """
    everything = np.arange(rows)
    return [np.setdiff1d(everything, held, assume_unique=True) for held in held_out]
