"""The levels of a categorical column, learned from the training part, and its indicators.

A column gets one indicator per level. A column with more than ``max_levels`` categories keeps
its ``max_levels - 1`` most frequent ones and an ``(other)`` level for the rest, so that a
high-cardinality column does not make thousands of inputs; a column missing in some training
rows gets a ``(missing)`` level of its own (when imputation is on).

A category unseen in training goes to ``(other)`` where the column has one (that indicator was
trained on the rare categories, the nearest thing to an unseen one), and is otherwise refused
(``unknown_category = "error"``) or all zeros (``"ignore"``, the default). All zeros rather than
an indicator of its own: an "unknown" input that no training row sets keeps its random initial
weight (weight decay only shrinks it), so it would add noise; all zeros give the model's
response with no contribution from the column.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import DataError
from .encode import category_text

MISSING_LEVEL = "(missing)"
OTHER_LEVEL = "(other)"
MAX_LEVELS = 256  # measured: at 64, a 300-level column lost 0.17 of R2 on friedman_2k


def fit_levels(values: pd.Series, max_levels: int = MAX_LEVELS, missing: bool = False) -> list[str]:
    """The levels of a column's training values (text, ``None`` where missing): its categories
    in sorted order, capped at the most frequent ones plus ``(other)``, then ``(missing)`` if
    ``missing`` and the training part has gaps.

    >>> fit_levels(pd.Series(["b", "a", "b", "c", None]), max_levels=2, missing=True)
    ['b', '(other)', '(missing)']
    """
    counts = values.value_counts(dropna=True)
    counts = counts[counts > 0]  # a categorical column lists categories of other rows too
    if len(counts) > max_levels:
        # The most frequent, ties to the first in sorted order, so that a refit agrees.
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        levels = sorted(str(name) for name, _ in ranked[: max_levels - 1]) + [OTHER_LEVEL]
    else:
        levels = sorted(str(name) for name in counts.index)
    if missing and values.isna().any():
        levels.append(MISSING_LEVEL)
    return levels


def unseen(values: pd.Series, levels: Sequence[str]) -> np.ndarray:
    """Which values (text) are categories the levels do not name (missing values are not)."""
    return (~values.isin(list(levels)) & values.notna()).to_numpy()


def unseen_counts(
    X: object, categories: dict[str, list[str]], rows: np.ndarray | None = None
) -> dict[str, int]:
    """Per categorical column of a raw table (its ``rows``, all by default), how many values
    its levels do not name (those with any).

    >>> unseen_counts(pd.DataFrame({"c": ["a", "z", None]}), {"c": ["a"]})
    {'c': 1}
    """
    if not categories or not isinstance(X, pd.DataFrame):
        return {}
    frame = X.set_axis([str(c) for c in X.columns], axis=1)
    counts = {}
    for column, levels in categories.items():
        if column in frame:
            text = category_text(frame[column])
            new = ~text.cat.categories.isin(list(levels))
            codes = text.cat.codes.to_numpy()
            codes = codes if rows is None else codes[rows]
            counts[column] = int(new[codes[codes >= 0]].sum())
    return {c: n for c, n in counts.items() if n}


def level_codes(
    text: pd.Series,
    levels: Sequence[str],
    unknown: str,
    column: str,
    source: str,
    fill: str | None = None,
) -> np.ndarray:
    """Each row's level (its position in ``levels``, ``-1`` for none) for a column's text
    (``category_text``), as ``indicators`` encodes it: missing values on the ``fill`` level if
    given, unseen categories on ``(other)`` where there is one, else refused or none. Looked up
    once per category, not per row.

    >>> level_codes(category_text(pd.Series(["a", "z", None])), ["a", "(other)"], "error", "c", "t")
    array([ 0,  1, -1])
    """
    levels = list(levels)
    position = {level: i for i, level in enumerate(levels)}
    known = np.array([position.get(c, -1) for c in text.cat.categories], dtype=np.int64)
    codes = text.cat.codes.to_numpy().astype(np.int64)
    new = np.flatnonzero(known < 0)
    if len(new):
        if OTHER_LEVEL in position:
            known[new] = position[OTHER_LEVEL]
        elif unknown == "error":
            rows = np.flatnonzero(np.isin(codes, new))
            if len(rows):
                known_levels = ", ".join(levels[:10])
                raise DataError(
                    f"column {column!r} of {source} has category {text.iloc[rows[0]]!r} (in "
                    f"{len(rows)} row(s)) not seen in training (known: {known_levels}); give "
                    "known categories, or train with --unknown-category ignore to encode it as "
                    "all zeros"
                )
    missing = position.get(fill, -1) if fill is not None else -1
    return np.append(known, missing)[codes]


def indicators(
    values: pd.Series, levels: Sequence[str], unknown: str, column: str, source: str
) -> np.ndarray:
    """``(n, len(levels))`` float32 indicators of a column's values (text, missing ones already
    filled where the column has a ``(missing)`` level).

    >>> indicators(pd.Series(["a", "z", None]), ["a", "(other)"], "error", "c", "t").tolist()
    [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    """
    levels = list(levels)
    codes = pd.Categorical(values, categories=levels).codes.astype(np.int64)
    new = unseen(values, levels)
    if new.any():
        if OTHER_LEVEL in levels:
            codes[new] = levels.index(OTHER_LEVEL)
        elif unknown == "error":
            known = ", ".join(levels[:10])
            raise DataError(
                f"column {column!r} of {source} has category {values[new].iloc[0]!r} (in "
                f"{int(new.sum())} row(s)) not seen in training (known: {known}); give known "
                "categories, or train with --unknown-category ignore to encode it as all zeros"
            )
    encoded = np.zeros((len(codes), len(levels)), dtype=np.float32)
    known = codes >= 0
    encoded[np.flatnonzero(known), codes[known]] = 1.0
    return encoded
