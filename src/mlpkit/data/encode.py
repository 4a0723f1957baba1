"""Checks and encodings of raw feature columns: numbers, categories and missing values.

Tables are checked once when loaded (``tidy_table``); imputation values and categories are
learned from the training part by ``Preprocessor`` (in ``preprocess.py``), which uses the helpers
here to apply them. Categories are compared as text, so ``3`` and ``3.0`` are the same category.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError
from .source import Features

IMPUTE_STRATEGIES = ("mean", "median", "most_frequent")
UNKNOWN_CATEGORY = ("error", "ignore")
CHUNK_VALUES = 1 << 19  # values per pass over an array (4 MB as float64), whatever its width


def row_chunks(X: np.ndarray, rows: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """``X[rows]`` (all rows by default) a few megabytes at a time, flattened to 2-D.

    A memory-mapped ``X`` is read one chunk at a time and never copied whole.
    """
    width = int(np.prod(X.shape[1:])) if X.ndim > 1 else 1
    step = max(1, CHUNK_VALUES // max(width, 1))
    n = len(X) if rows is None else len(rows)
    for start in range(0, n, step):
        part = slice(start, start + step)
        block = np.asarray(X[part] if rows is None else X[rows[part]])
        yield block.reshape(len(block), width)


def is_categorical(values: pd.Series) -> bool:
    """Text, category and other non-numeric columns are one-hot encoded; bools are numbers."""
    return not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values))


def tidy_table(frame: pd.DataFrame, source: str, categorical: Iterable[str] = ()) -> pd.DataFrame:
    """A table's feature columns, checked: numbers stay numbers, text becomes categories.

    A text column whose values are mostly numbers is a numeric column with typos (``"?"``,
    ``"1,5"``): an error naming the column, rather than a category per distinct number. Numbers
    stored as text become numbers; columns listed in ``categorical`` are categories even if
    numeric. Infinite values are an error; missing values are left for the preprocessor.

    >>> table = tidy_table(pd.DataFrame({"n": ["1", "2.5"], "c": ["a", "b"]}), "t.csv")
    >>> table["n"].tolist(), table["c"].tolist()
    ([1.0, 2.5], ['a', 'b'])
    """
    categorical = set(categorical)
    unknown = sorted(categorical - {str(c) for c in frame.columns})
    if unknown:
        raise DataError(
            f"{source} has no column(s) {unknown} to treat as categorical; check --categorical"
        )
    columns: dict[object, pd.Series] = {}
    for column in frame.columns:
        values = frame[column]
        if str(column) in categorical:
            columns[column] = category_text(values)
            continue
        if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_timedelta64_dtype(
            values
        ):
            raise DataError(
                f"column {column!r} of {source} holds dates or durations; turn it into numbers "
                "(e.g. days since a reference date) or leave it out with --features"
            )
        if is_categorical(values):
            present = values.notna()
            parsed = pd.to_numeric(values.where(present), errors="coerce")
            words = present & parsed.isna()
            n_words, n_numbers = int(words.sum()), int((present & parsed.notna()).sum())
            if n_words == 0 and n_numbers:
                values = parsed  # numbers stored as text
            elif n_numbers > n_words:
                raise DataError(
                    f"column {column!r} of {source} is numeric but has {n_words} non-numeric "
                    f"value(s) (e.g. {values[words].iloc[0]!r}); fix them, leave them empty and "
                    "use --impute, or list the column in --categorical"
                )
            else:
                columns[column] = category_text(values)
                continue
        values = values.astype(np.float64) if pd.api.types.is_bool_dtype(values) else values
        infinite = int(np.isinf(values.to_numpy(dtype=np.float64, na_value=np.nan)).sum())
        if infinite:
            raise DataError(
                f"column {column!r} of {source} has {infinite} infinite value(s); "
                "fix or drop those rows"
            )
        columns[column] = values
    return pd.DataFrame(columns, index=frame.index)


def category_text(values: pd.Series) -> pd.Series:
    """Categories as text (missing values stay missing); whole numbers lose their ``.0``."""
    present = values.notna()
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = np.isfinite(numbers) & (np.mod(numbers, 1) == 0)
        text = [str(int(v)) if w else str(v) for v, w in zip(numbers, whole, strict=True)]
        result = pd.Series(text, index=values.index, dtype=object)
    else:
        result = values.astype(object).map(str)
    return result.where(present, None)


def check_missing(
    X: Features,
    source: str,
    names: Sequence[str] | None = None,
    rows: np.ndarray | None = None,
) -> None:
    """An error naming the first column with missing values and how many rows lack it.

    >>> check_missing(pd.DataFrame({"a": [1.0, None]}), "t.csv")
    Traceback (most recent call last):
    ...
    mlpkit.errors.DataError: column 'a' of t.csv is missing in 1 row(s); ...
    """
    if isinstance(X, pd.DataFrame):
        counts = (X if rows is None else X.iloc[rows]).isna().sum().to_numpy()
        names = [str(c) for c in X.columns]
    else:
        if not np.issubdtype(X.dtype, np.floating):
            return
        counts = np.zeros(X.shape[1] if X.ndim > 1 else 1, dtype=np.int64)
        for block in row_chunks(X, rows):
            counts += np.isnan(block).sum(axis=0)
        names = list(names) if names else [f"x{i}" for i in range(len(counts))]
    raise_missing(counts, names, source)


def raise_missing(counts: np.ndarray, names: Sequence[str], source: str) -> None:
    """The missing-value error for per-column counts, if any count is not zero."""
    bad = np.flatnonzero(counts)
    if len(bad):
        others = f" (and {len(bad) - 1} other column(s))" if len(bad) > 1 else ""
        raise DataError(
            f"column {names[bad[0]]!r} of {source} is missing in {int(counts[bad[0]])} row(s)"
            f"{others}; fill them in, drop those rows, or use --impute mean, median or "
            "most_frequent"
        )


def check_finite_array(X: np.ndarray, source: str) -> None:
    """An error for infinite values in an array (NaN counts as missing, see ``check_missing``)."""
    if not np.issubdtype(X.dtype, np.floating):
        return
    rows = 0
    for block in row_chunks(X):
        rows += int(np.isinf(block).any(axis=1).sum())
    if rows:
        raise DataError(f"{source} has infinite values in {rows} row(s); fix or drop them")


def fill_value(values: np.ndarray | pd.Series, strategy: str, column: str = "") -> float | str:
    """The value that replaces missing ones in a column: its mean, median or most frequent."""
    series = pd.Series(values).dropna()
    if series.empty:
        raise DataError(
            f"column {column!r} has no values at all in the training part; leave it out with "
            "--features"
        )
    if strategy == "most_frequent" or not pd.api.types.is_numeric_dtype(series):
        counts = series.value_counts(sort=False)
        # Ties go to the smallest value, as scikit-learn's SimpleImputer does.
        best = counts[counts == counts.max()].index
        value = sorted(best)[0]
        return value if isinstance(value, str) else float(value)
    return float(series.mean() if strategy == "mean" else series.median())


def one_hot(
    values: pd.Series, categories: Sequence[str], unknown: str, column: str, source: str
) -> np.ndarray:
    """``(n, len(categories))`` float32 indicators; an unknown category is an error or all zeros."""
    codes = pd.Categorical(values, categories=list(categories)).codes
    unseen = (codes < 0) & values.notna().to_numpy()
    if unseen.any() and unknown == "error":
        example = values[unseen].iloc[0]
        raise DataError(
            f"column {column!r} of {source} has category {example!r} (in {int(unseen.sum())} "
            f"row(s)) not seen in training (known: {', '.join(categories[:10])}); give known "
            "categories, or train with --unknown-category ignore to encode it as all zeros"
        )
    encoded = np.zeros((len(codes), len(categories)), dtype=np.float32)
    known = codes >= 0
    encoded[np.flatnonzero(known), codes[known]] = 1.0
    return encoded
