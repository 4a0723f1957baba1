"""Data from files: CSV/TSV, Parquet, NPY and NPZ.

Tables name their target column and keep their feature columns raw (text, categories, missing
values), for the preprocessor fitted after the split. NPZ files hold ``X`` and ``y`` arrays (or
arrays named by ``target`` and ``features``); an NPY file is one memory-mapped 2-D array whose
target is a column (the last by default). String class labels become indices and their names are
kept for prediction.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError, DataNotFoundError
from .array_files import check_array_file, check_unpacked_size
from .encode import category_text, check_finite_array, tidy_table
from .source import Features, LoadedData

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": None, ".parquet": None, ".pq": None}
ARRAY_SUFFIXES = {".npy", ".npz"}
SUFFIXES = sorted(set(TABLE_SUFFIXES) | ARRAY_SUFFIXES)


def is_data_file(name: str) -> bool:
    return Path(name).suffix.lower() in SUFFIXES or Path(name).exists()


def _check_exists(path: Path) -> None:
    if not path.is_file():
        raise DataNotFoundError(f"no file at {path}; check the path (or name a built-in data set)")
    if path.suffix.lower() not in SUFFIXES:
        raise DataError(
            f"cannot read {path.name}: unknown format {path.suffix!r}; "
            f"use one of {', '.join(SUFFIXES)}"
        )
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty; give a file with a header row and data rows")


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV, TSV or Parquet file as a DataFrame, with a one-line error when it is malformed."""
    path = Path(path)
    _check_exists(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = _read_text_table(path, TABLE_SUFFIXES[suffix])
    except ImportError:
        raise ConfigError("reading Parquet needs pyarrow: pip install 'mlpkit[parquet]'") from None
    except (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
        OSError,
        ValueError,  # pyarrow's ArrowInvalid for a file that is not Parquet
    ) as exc:
        raise DataError(f"cannot read {path}: {str(exc).splitlines()[0]}; fix the file") from None
    if frame.empty:
        raise DataError(f"{path} has no data rows; give a file with at least one sample")
    return frame


def _read_text_table(path: Path, sep: str | None) -> pd.DataFrame:
    """A CSV or TSV file read by pyarrow's multi-threaded reader, with the values and names
    pandas' reader gives; pandas' reader where pyarrow is missing, the delimiter is to be
    guessed (``.txt``) or pyarrow refuses the file (a short row, bad UTF-8), so that such
    files load, or fail, with pandas' own rules and messages."""
    try:
        from .arrow_csv import read_csv
    except ImportError:
        read_csv = None
    found = read_csv(path, sep) if read_csv is not None and sep is not None else None
    if found is not None:
        frame, names = found
        _check_unique_names([n for n in names if n != ""], path)
        return frame
    # pandas' C reader: the python engine read a 200,000-row table 10x slower (8.7 s).
    frame = pd.read_csv(path, sep=sep, low_memory=False)
    header = pd.read_csv(path, sep=sep, header=None, nrows=1)
    _check_unique_names([v for v in header.iloc[0] if not pd.isna(v)], path)
    return frame


def _check_unique_names(names: list, path: Path) -> None:
    """pandas renames a repeated column name ``a.1`` without a word: refuse it instead."""
    text = [str(n) for n in names]
    repeated = sorted({n for n in text if text.count(n) > 1})
    if repeated:
        raise DataError(
            f"{path} names more than one column {repeated[0]!r}; give each column its own name"
        )


def _no_features_hint(frame: pd.DataFrame, target: str, source: str) -> DataError:
    """The error for a table with no column besides the target, often a wrong delimiter."""
    names = " ".join(map(str, frame.columns))
    found = [d for d, n in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")) if d in names]
    if found or frame.shape[1] == 1:
        guess = f" looks separated by {found[0]!r}" if found else " has a single column"
        return DataError(
            f"{source} has no feature columns besides the target {target!r}: its header{guess}, "
            "but .csv files are read with commas (.tsv with tabs); save it comma-separated, or "
            "add feature columns"
        )
    return DataError(f"{source} has no feature columns besides the target {target!r}; add some")


def read_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an NPY (as ``X``) or NPZ file. NPY files are memory-mapped, not read; an
    NPZ file's declared sizes are checked against the machine's memory before it is unpacked."""
    path = Path(path)
    _check_exists(path)
    check_array_file(path)
    try:
        if path.suffix.lower() == ".npy":
            return {"X": np.load(path, mmap_mode="r", allow_pickle=False)}
        check_unpacked_size(path)
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(
            f"cannot read {path}: {reason}; the file is truncated or damaged, save it again"
        ) from None


def encode_target(
    y: np.ndarray | pd.Series,
    task: str,
    source: str,
    classes: Sequence[str] | None = None,
):
    """Targets as int64 class indices (with class names) or float32 values, and the task.

    ``classes`` maps labels to the indices of a model already trained (a separate validation
    or test file, or evaluation data); a label outside them is an error.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)  # a column vector: one target per row all the same
    if y.ndim != 1:
        raise DataError(
            f"the target of {source} has shape {y.shape}; give one target per row (a 1-D array)"
        )
    if y.dtype.kind == "c":
        raise DataError(f"the target of {source} is complex; give real numbers or class labels")
    values = pd.Series(y)
    if values.isna().any():
        raise DataError(
            f"the target of {source} is missing in {int(values.isna().sum())} row(s); "
            "fill it in or drop those rows"
        )
    if task == "auto":
        task = "regression" if classes is None and _looks_continuous(values) else "classification"
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(values):
            raise DataError(f"the target of {source} is text; use --task classification")
        with np.errstate(over="ignore"):  # beyond float32: refused just below
            numbers = values.to_numpy(dtype=np.float32, copy=True)
        infinite = np.flatnonzero(~np.isfinite(numbers))  # or beyond float32
        if len(infinite):
            raise DataError(
                f"the target of {source} is infinite or too large for float32 in "
                f"{len(infinite)} row(s) (the first is data row {infinite[0] + 1}); fix or drop "
                "those rows, or rescale the target"
            )
        return numbers, None, task
    if classes is None:
        raw = sorted(values.unique(), key=lambda v: (str(type(v)), v))
        classes = category_text(pd.Series(raw, dtype=values.dtype)).tolist()
        if len(classes) < 2:
            raise DataError(
                f"the target of {source} has a single class ({classes[0]!r}); "
                "classification needs at least two"
            )
    labels = category_text(values)  # no label is missing: refused above
    position = {c: i for i, c in enumerate(classes)}
    known = np.array([position.get(c, -1) for c in labels.cat.categories], dtype=np.int64)
    codes = known[labels.cat.codes.to_numpy()]
    unknown = np.flatnonzero(codes < 0)
    if len(unknown):
        raise DataError(
            f"the target of {source} has label {labels.iloc[unknown[0]]!r} (in "
            f"{len(unknown)} row(s)) that is not one of the model's classes "
            f"({', '.join(list(classes)[:10])}); give data with those classes only"
        )
    return codes, list(classes), task


def _looks_continuous(values: pd.Series) -> bool:
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    with np.errstate(invalid="ignore"):  # infinite values are refused as regression targets
        whole = bool(np.all(np.mod(values.to_numpy(dtype=float), 1) == 0))
    return not (whole and values.nunique() <= 50)


def load_file(
    path: str | Path,
    target: str | None = None,
    features: Sequence[str] | None = None,
    task: str = "auto",
    *,
    categorical: Sequence[str] = (),
    classes: Sequence[str] | None = None,
) -> LoadedData:
    """A data set from a file. ``target`` is a column name (tables), a column number (NPY) or
    an array name (NPZ); ``features`` names columns (tables) or arrays (NPZ).

    ``classes`` encodes class labels as a model already trained does (see ``encode_target``).

    >>> data = load_file("houses.csv", target="price")  # doctest: +SKIP
    """
    path = Path(path)
    source = path.name
    if path.suffix.lower() in ARRAY_SUFFIXES:
        X, y, image_shape = _array_features(path, target, features)
        if len(X) != len(y):
            raise DataError(
                f"{source} has {len(X)} rows of X but {len(y)} targets; give one target per row"
            )
        if len(X) == 0:
            raise DataError(f"{source} has no rows; give at least one sample")
        check_finite_array(X, source)
        y, class_names, task = encode_target(y, task, source, classes)
        return LoadedData(
            path.stem,
            X,
            y,
            task,  # type: ignore[arg-type]
            class_names=class_names,
            image_shape=image_shape,
        )
    frame = read_table(path)
    if target is None:
        target = str(frame.columns[-1])
    if target not in frame.columns:
        raise DataError(
            f"{source} has no column {target!r}; choose --target from: "
            f"{', '.join(map(str, frame.columns))}"
        )
    columns = list(features) if features else [c for c in frame.columns if c != target]
    if not columns:
        raise _no_features_hint(frame, str(target), source)
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise DataError(f"{source} has no feature column(s) {unknown}; check --features")
    if target in columns:
        raise DataError(f"the target {target!r} is also a feature; leave it out of --features")
    X = tidy_table(frame[columns], source, categorical)
    y, class_names, task = encode_target(frame[target], task, source, classes)
    return LoadedData(
        path.stem,
        X,
        y,
        task,  # type: ignore[arg-type]
        class_names=class_names,
        target=str(target),
    )


def _array_features(
    path: Path, target: str | None, features: Sequence[str] | None
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...] | None]:
    """Features (memory-mapped where possible), targets and image shape of an NPY / NPZ file."""
    arrays = read_arrays(path)
    if path.suffix.lower() == ".npy":
        table = arrays["X"]
        if table.ndim != 2 or table.shape[1] < 2:
            raise DataError(
                f"{path.name} must be a 2-D array with the target in one column, got shape "
                f"{table.shape}; or save X and y with np.savez"
            )
        try:
            column = -1 if target is None else int(target)
        except ValueError:
            raise DataError(
                f"an NPY file has no column names; give --target as a column number, not {target!r}"
            ) from None
        width = table.shape[1]
        if not -width <= column < width:
            raise DataError(f"{path.name} has {width} columns; --target {column} is not one")
        column %= width
        y = np.array(table[:, column])
        # Basic slices keep the memory map; a target in the middle needs a copy of the rest.
        if column == width - 1:
            X = table[:, :-1]
        elif column == 0:
            X = table[:, 1:]
        else:
            X = np.delete(np.asarray(table), column, axis=1)
        return X, y, None
    target_key = target or "y"
    keys = list(features) if features else [k for k in ("X",) if k in arrays]
    if not keys and len(arrays) == 2 and target_key in arrays:
        keys = [k for k in arrays if k != target_key]
    missing = [k for k in [*keys, target_key] if k not in arrays]
    if missing or not keys:
        raise DataError(
            f"{path.name} holds arrays {sorted(arrays)}, not {missing or ['X']}; save X and y "
            "with np.savez, or name the arrays with --features and --target"
        )
    parts = [np.asarray(arrays[k]) for k in keys]
    image_shape = tuple(int(n) for n in parts[0].shape[1:]) if len(parts) == 1 else None
    if image_shape is not None and len(image_shape) != 2:
        image_shape = None
    X = np.concatenate([p.reshape(len(p), -1) for p in parts], axis=1)
    return X, np.asarray(arrays[target_key]), image_shape


def as_features(X: Features, source: str, categorical: Sequence[str] = ()) -> Features:
    """Features read for prediction: arrays flattened and checked, tables checked (with the
    model's categorical columns read as categories, whatever they look like)."""
    if isinstance(X, pd.DataFrame):
        return tidy_table(X, source, categorical)
    X = np.asarray(X) if not isinstance(X, np.memmap) else X
    X = X.reshape(len(X), -1) if X.ndim > 1 else X.reshape(1, -1)
    check_finite_array(X, source)
    return X
