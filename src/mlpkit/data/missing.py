"""Missing values: the fill values of an array's columns, and what a run filled.

A table's fill values and its missing-value indicators are learned in ``Preprocessor`` (numeric
columns: median, mean or most frequent value, plus an indicator input where the training part
had gaps; categorical columns: a ``(missing)`` category); here are the array's fill values,
computed a chunk at a time, and the counts a run summary shows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .encode import fill_value, missing_counts, row_chunks
from .scaling import sample_rows
from .source import Features


def array_fill(
    X: np.ndarray, rows: np.ndarray | None, strategy: str, columns: list[str]
) -> list[Any]:
    """Each column's fill value over ``X[rows]``: its mean, median or most frequent value.

    >>> array_fill(np.array([[1.0], [np.nan], [5.0]]), None, "mean", ["a"])
    [3.0]
    """
    if strategy == "mean":
        # Chunked, so that a memory-mapped array is never read whole.
        total, count = np.zeros(X.shape[1]), np.zeros(X.shape[1])
        for chunk in row_chunks(X, rows):
            block = chunk.astype(np.float64)
            total += np.nansum(block, axis=0)
            count += (~np.isnan(block)).sum(axis=0)
        if (count == 0).any():
            fill_value([], "mean", columns[int(np.flatnonzero(count == 0)[0])])
        return (total / count).tolist()
    # A large memory-mapped file's medians and modes come from evenly spaced rows.
    part = sample_rows(X, rows)
    return [fill_value(part[:, j], strategy, columns[j]) for j in range(part.shape[1])]


def filled_counts(X: Features, rows: np.ndarray | None, columns: list[str]) -> dict[str, int]:
    """Missing values per column of ``X[rows]``, for the columns that have any.

    >>> import pandas as pd
    >>> filled_counts(pd.DataFrame({"a": [1.0, None], "b": [1, 2]}), None, ["a", "b"])
    {'a': 1}
    """
    counts = missing_counts(X, rows)
    return {c: int(n) for c, n in zip(columns, counts.tolist(), strict=False) if n}
