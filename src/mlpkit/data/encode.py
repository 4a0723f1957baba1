"""Checks and encodings of raw feature columns: numbers, categories and missing values.

Tables are checked once when loaded (``tidy_table``); imputation values and categories are
learned from the training part by ``Preprocessor`` (in ``preprocess.py``), which uses the helpers
here to apply them. Categories are compared as text, so ``3`` and ``3.0`` are the same category.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

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
    numeric. Infinite values are an error; missing values are left for the preprocessor. Text
    is looked at once per distinct value, not once per row.

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
            raise _dates(column, source)
        if is_categorical(values):
            codes, uniques = _factorize(values)
            if _iso_dates(uniques):
                raise _dates(column, source)
            parsed = pd.to_numeric(uniques, errors="coerce")
            word = parsed.isna().to_numpy()
            counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
            n_words, n_numbers = int(counts[word].sum()), int(counts[~word].sum())
            if n_words == 0 and n_numbers:
                numbers = parsed.to_numpy()
                if (codes < 0).any():  # numbers stored as text, with gaps
                    numbers = np.append(numbers.astype(np.float64), np.nan)
                values = pd.Series(numbers[codes], index=values.index, name=values.name)
            elif n_numbers > n_words:
                example = values.iloc[int(np.flatnonzero(word[codes] & (codes >= 0))[0])]
                raise DataError(
                    f"column {column!r} of {source} is numeric but has {n_words} non-numeric "
                    f"value(s) (e.g. {example!r}); fix them, leave them empty to be "
                    "filled (--impute), or list the column in --categorical"
                )
            else:
                columns[column] = _as_text(codes, uniques, values)
                continue
        values = values.astype(np.float64) if pd.api.types.is_bool_dtype(values) else values
        infinite = int(np.isinf(values.to_numpy(dtype=np.float64, na_value=np.nan)).sum())
        if infinite:
            raise DataError(
                f"column {column!r} of {source} has {infinite} infinite value(s); "
                "fix or drop those rows"
            )
        columns[column] = values
    # The columns as they are, not copied into one block.
    return pd.DataFrame(columns, index=frame.index, copy=False)


def _dates(column: object, source: str) -> DataError:
    return DataError(
        f"column {column!r} of {source} holds dates or durations; turn it into numbers "
        "(e.g. days since a reference date) or leave it out with --features"
    )


# An ISO 8601 date or date-time, as CSV files hold them (read as text, not parsed).
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"


def _iso_dates(distinct: pd.Series) -> bool:
    """Whether a text column's distinct values are ISO dates only (one-hot encoding them would
    make every unseen date an unknown category)."""
    return len(distinct) > 0 and bool(distinct.astype(str).str.match(_ISO_DATE).all())


def _factorize(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Each row's code (``-1`` where missing) and the distinct values present, as a Series."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        # The categories present, counted rather than sorted (remove_unused_categories sorts).
        codes = values.cat.codes.to_numpy().astype(np.int64)
        categories = values.cat.categories
        used = np.bincount(codes[codes >= 0], minlength=len(categories)) > 0
        if not used.all():
            renumber = np.full(len(categories) + 1, -1, dtype=np.int64)
            renumber[np.flatnonzero(used)] = np.arange(int(used.sum()))
            codes, categories = renumber[codes], categories[used]
        return codes, pd.Series(categories)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64), pd.Series(uniques)


def _as_text(codes: np.ndarray, uniques: pd.Series, values: pd.Series) -> pd.Series:
    """A categorical Series of each row's text: the sorted distinct texts as categories."""
    present = uniques.notna()
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = uniques.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = np.isfinite(numbers) & (np.mod(numbers, 1) == 0)
        text = [str(int(v)) if w else str(v) for v, w in zip(numbers, whole, strict=True)]
    else:
        text = [str(v) for v in uniques.astype(object)]
    text_array = np.asarray(text, dtype=object).reshape(-1)
    categories, inverse = np.unique(text_array, return_inverse=True)
    inverse = np.append(inverse.reshape(-1), -1)  # code -1 (missing) stays -1
    inverse[np.flatnonzero(~present.to_numpy())] = -1
    return pd.Series(
        pd.Categorical.from_codes(inverse[codes], categories=pd.Index(categories, dtype=object)),
        index=values.index,
        name=values.name,
    )


def category_text(values: pd.Series) -> pd.Series:
    """Categories as text (missing values stay missing); whole numbers lose their ``.0``.

    A categorical Series whose categories are the sorted texts of the values present, each text
    made once per distinct value (a large column's rows are not turned into Python strings).

    >>> category_text(pd.Series([3.0, 2.5, None, 3])).tolist()
    ['3', '2.5', nan, '3']
    """
    codes, uniques = _factorize(values)
    return _as_text(codes, uniques, values)


def feature_table(X: Features, columns: list[str], source: str) -> pd.DataFrame:
    """A raw table's feature ``columns``, in order; an error for an array or a missing column.

    >>> feature_table(pd.DataFrame({"b": [1], "a": [2]}), ["a"], "t.csv").columns.tolist()
    ['a']
    """
    if not isinstance(X, pd.DataFrame):
        raise DataError(
            f"the model was trained on a table with columns {columns[:5]}...; "
            "give a CSV, TSV or Parquet file with those columns"
        )
    missing = [c for c in columns if c not in set(map(str, X.columns))]
    if missing:
        raise DataError(
            f"{source} lacks the feature column(s) {missing[:5]} the model was trained on; "
            "give a file with the same feature columns"
        )
    return X.set_axis([str(c) for c in X.columns], axis=1)[columns]


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
    counts = missing_counts(X, rows)
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
    else:
        names = list(names) if names else [f"x{i}" for i in range(len(counts))]
    raise_missing(counts, names, source)


def missing_counts(X: Features, rows: np.ndarray | None = None) -> np.ndarray:
    """Missing values per column of ``X[rows]`` (all rows by default), a chunk at a time.

    >>> missing_counts(pd.DataFrame({"a": [1.0, None], "b": ["x", None]})).tolist()
    [1, 1]
    """
    if isinstance(X, pd.DataFrame):  # a column at a time: the rows are not copied
        gaps = (X.iloc[:, j].isna().to_numpy() for j in range(X.shape[1]))
        return np.array([int((g if rows is None else g[rows]).sum()) for g in gaps], dtype=np.int64)
    counts = np.zeros(int(np.prod(X.shape[1:])) if X.ndim > 1 else 1, dtype=np.int64)
    if np.issubdtype(X.dtype, np.floating):
        for block in row_chunks(X, rows):
            counts += np.isnan(block).sum(axis=0)
    return counts


def raise_missing(counts: np.ndarray, names: Sequence[str], source: str) -> None:
    """The missing-value error for per-column counts, if any count is not zero."""
    bad = np.flatnonzero(counts)
    if len(bad):
        others = f" (and {len(bad) - 1} other column(s))" if len(bad) > 1 else ""
        raise DataError(
            f"column {names[bad[0]]!r} of {source} is missing in {int(counts[bad[0]])} row(s)"
            f"{others}; fill them in, drop those rows, or use --impute median (the default), "
            "mean or most_frequent"
        )


_KINDS = {"c": "complex numbers", "U": "text", "S": "bytes", "O": "Python objects",
          "M": "dates", "m": "durations", "V": "records"}  # fmt: skip


def check_finite_array(X: np.ndarray, source: str) -> None:
    """An error for an array of anything but real numbers, or with infinite values (NaN counts
    as missing, see ``check_missing``)."""
    if X.dtype.kind in _KINDS:
        raise DataError(
            f"{source} holds {_KINDS[X.dtype.kind]} ({X.dtype}), not real numbers; save its "
            "features as numbers (encode text columns, or give a CSV to have them encoded)"
        )
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


def check_statistics(
    mean: np.ndarray, scale: np.ndarray, names: Sequence[str], source: str
) -> None:
    """An error for a numeric column whose mean or spread overflows float64 (values near 1e308
    or whose squares are), which would otherwise standardise to zeros or NaN without a word."""
    bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(scale)))
    if len(bad):
        raise DataError(
            f"column {names[bad[0]]!r} of {source} has values too large to standardise (their "
            "mean or spread overflows); rescale the column (e.g. other units or a log) or leave "
            "it out with --features"
        )


def check_finite_output(
    X: np.ndarray,
    names: Sequence[str] | Callable[[], Sequence[str]],
    source: str,
    index: Sequence | None = None,
) -> None:
    """An error naming the column and row of the first value that is not finite after
    preprocessing (a raw value beyond float32, or one that overflows when standardised);
    ``names`` are the columns' names, or what gives them when there is an error to name."""
    first, bad = None, 0
    step = max(1, CHUNK_VALUES // max(X.shape[1] if X.ndim == 2 else 1, 1))
    for start in range(0, len(X), step):  # no boolean copy of the whole matrix
        finite = np.isfinite(X[start : start + step])
        if finite.all():
            continue
        if first is None:
            row, column = (int(i) for i in np.argwhere(~finite)[0])
            first = (start + row, column)
        bad += int((~finite).sum())
    if first is None:
        return
    row, column = first
    names = names() if callable(names) else names
    label = index[row] if index is not None else row
    where = f"data row {label + 1}" if isinstance(label, (int, np.integer)) else f"row {label!r}"
    others = bad - 1
    where += f" (and {others} other value(s))" if others else ""
    raise DataError(
        f"column {names[column]!r} of {source} is {X[row, column]} after preprocessing at "
        f"{where}: its value is too large for the model's float32 inputs; rescale the column "
        "or drop such rows"
    )


def numeric_column(frame: pd.DataFrame, column: str, source: str) -> np.ndarray:
    """One numeric column as float64 (missing values as NaN), not copied where it is float64
    already; a column with text in it is named, as ``numeric_array`` does."""
    values = frame[column]
    if values.dtype == np.float64:
        return values.to_numpy()
    return numeric_array(frame, [column], source).reshape(-1)


def numeric_array(
    frame: pd.DataFrame, columns: list[str], source: str, dtype: type = np.float64
) -> np.ndarray:
    """The numeric ``columns`` of ``frame`` as one array (missing values as NaN); a column with
    text in it is named, with an example of the text."""
    try:
        return frame[columns].to_numpy(dtype=dtype, na_value=np.nan)
    except (TypeError, ValueError):
        for column in columns:
            parsed = pd.to_numeric(frame[column], errors="coerce")
            bad = parsed.isna() & frame[column].notna()
            if bad.any():
                raise DataError(
                    f"column {column!r} of {source} should be numeric but has "
                    f"{int(bad.sum())} non-numeric value(s) (e.g. "
                    f"{frame[column][bad].iloc[0]!r}); fix them"
                ) from None
        raise
