"""Data from files: CSV/TSV, Parquet, NPY and NPZ.

Tables name their target column; NPZ files hold ``X`` and ``y`` arrays; an NPY file is one
array whose target is a column (the last by default). String class labels become indices and
their names are kept for prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError, DataNotFoundError
from .source import LoadedData

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
            frame = pd.read_csv(path, sep=TABLE_SUFFIXES[suffix], engine="python")
    except ImportError:
        raise ConfigError("reading Parquet needs pyarrow: pip install 'mlpkit[parquet]'") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise DataError(f"cannot read {path}: {str(exc).splitlines()[0]}; fix the file") from None
    if frame.empty:
        raise DataError(f"{path} has no data rows; give a file with at least one sample")
    return frame


def read_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an NPY (as ``X``) or NPZ file. NPY files are memory-mapped, not read."""
    path = Path(path)
    _check_exists(path)
    try:
        if path.suffix.lower() == ".npy":
            return {"X": np.load(path, mmap_mode="r", allow_pickle=False)}
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {str(exc).splitlines()[0]}; fix the file") from None


def numeric_features(frame: pd.DataFrame, source: str) -> np.ndarray:
    """Feature columns as float32, refusing text and missing or infinite values by column."""
    for column in frame.columns:
        values = frame[column]
        if not pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            converted = pd.to_numeric(values, errors="coerce")
            bad = int(converted.isna().sum() - values.isna().sum())
            raise DataError(
                f"column {column!r} of {source} has {bad} non-numeric value(s) "
                f"(e.g. {values[converted.isna() & values.notna()].iloc[0]!r}); "
                "fix them or leave the column out with --features"
            )
        missing = int(values.isna().sum())
        if missing:
            raise DataError(
                f"column {column!r} of {source} has {missing} missing value(s); "
                "fill them in or drop those rows"
            )
    X = frame.to_numpy(dtype=np.float32)
    check_finite(X, source)
    return X


def check_finite(X: np.ndarray, source: str) -> None:
    if np.issubdtype(X.dtype, np.floating) and not np.isfinite(X).all():
        rows = int((~np.isfinite(X)).any(axis=tuple(range(1, X.ndim))).sum())
        raise DataError(f"{source} has NaN or infinite values in {rows} row(s); fix or drop them")


def encode_target(y: np.ndarray | pd.Series, task: str, source: str):
    """Targets as int64 class indices (with class names) or float32 values, and the task."""
    values = pd.Series(np.asarray(y))
    if values.isna().any():
        raise DataError(f"the target of {source} has {int(values.isna().sum())} missing value(s)")
    if task == "auto":
        is_text = not pd.api.types.is_numeric_dtype(values)
        whole = is_text or bool(np.all(np.mod(values.to_numpy(dtype=float), 1) == 0))
        task = "classification" if is_text or (whole and values.nunique() <= 50) else "regression"
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(values):
            raise DataError(f"the target of {source} is text; use --task classification")
        return values.to_numpy(dtype=np.float32), None, task
    classes = sorted(values.unique(), key=lambda v: (str(type(v)), v))
    if len(classes) < 2:
        raise DataError(
            f"the target of {source} has a single class ({classes[0]!r}); "
            "classification needs at least two"
        )
    index = {c: i for i, c in enumerate(classes)}
    return values.map(index).to_numpy(dtype=np.int64), [str(c) for c in classes], task


def load_file(
    path: str | Path,
    target: str | None = None,
    features: Sequence[str] | None = None,
    task: str = "auto",
) -> LoadedData:
    """A data set from a file. ``target`` is a column name (tables) or index (NPY).

    >>> data = load_file("houses.csv", target="price")  # doctest: +SKIP
    """
    path = Path(path)
    source = path.name
    if path.suffix.lower() in ARRAY_SUFFIXES:
        arrays = read_arrays(path)
        if "y" in arrays:
            X, y = np.asarray(arrays["X"]), arrays["y"]
        elif "X" in arrays and arrays["X"].ndim == 2:
            column = -1 if target is None else int(target)
            X = np.delete(np.asarray(arrays["X"]), column, axis=1)
            y = np.asarray(arrays["X"])[:, column]
        else:
            raise DataError(f"{source} must hold arrays named X and y; save it with np.savez")
        X = X.reshape(len(X), -1).astype(np.float32)
        if len(X) != len(y):
            raise DataError(
                f"{source} has {len(X)} rows of X but {len(y)} targets; give one target per row"
            )
        check_finite(X, source)
        y, class_names, task = encode_target(y, task, source)
        return LoadedData(path.stem, X, y, task, class_names=class_names)  # type: ignore[arg-type]
    frame = read_table(path)
    if target is None:
        target = str(frame.columns[-1])
    if target not in frame.columns:
        raise DataError(
            f"{source} has no column {target!r}; choose --target from: "
            f"{', '.join(map(str, frame.columns))}"
        )
    columns = list(features) if features else [c for c in frame.columns if c != target]
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise DataError(f"{source} has no feature column(s) {unknown}; check --features")
    X = numeric_features(frame[columns], source)
    y, class_names, task = encode_target(frame[target], task, source)
    return LoadedData(
        path.stem,
        X,
        y,
        task,  # type: ignore[arg-type]
        feature_names=[str(c) for c in columns],
        class_names=class_names,
    )
