"""Which of the preprocessed inputs a RealMLP embeds: numeric columns (PBLD) and the one-hot
blocks of categorical columns with many levels (a learned embedding each)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only its fitted attributes are read
    from ..data.preprocess import Preprocessor

# RealMLP-TD one-hot encodes a column of at most 8 categories (9 with its missing value) and
# gives a larger one a learned embedding of 8 values.
ONE_HOT_LEVELS = 8


def input_plan(
    preprocessor: Preprocessor, one_hot_levels: int = ONE_HOT_LEVELS
) -> tuple[list[int], list[tuple[int, int]]]:
    """The input positions of numeric columns, and the ``(start, width)`` one-hot blocks of
    categorical columns with more than ``one_hot_levels`` levels.

    >>> import pandas as pd
    >>> from mlpkit.data.preprocess import Preprocessor
    >>> table = pd.DataFrame({"x": [1.0, None, 3.0], "c": ["a", "b", "c"]})
    >>> input_plan(Preprocessor().fit(table), one_hot_levels=2)
    ([0], [(2, 3)])
    """
    numeric: list[int] = []
    embedded: list[tuple[int, int]] = []
    position = 0
    for column in preprocessor.columns_:
        levels = preprocessor.categories_.get(column)
        if levels is not None:
            if len(levels) > one_hot_levels:
                embedded.append((position, len(levels)))
            position += len(levels)
            continue
        numeric.append(position)
        position += 1 + (column in preprocessor.indicators_)
    return numeric, embedded
