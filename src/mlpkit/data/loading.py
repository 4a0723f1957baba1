"""One entry point for every data source: built-in names, downloadable names and files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError, DataError
from .builtin import BUILTIN
from .files import (
    ARRAY_SUFFIXES,
    check_finite,
    load_file,
    numeric_features,
    read_arrays,
    read_table,
)
from .source import LoadedData

if TYPE_CHECKING:
    from ..config import DataConfig


def load_data(config: DataConfig) -> LoadedData:
    """The data set a config names: built-in, downloadable (cached) or a file.

    >>> from mlpkit.config import DataConfig
    >>> load_data(DataConfig(name="iris")).X.shape
    (150, 4)
    """
    from .downloads import DOWNLOADABLE, load_downloadable

    name = config.name
    if name in BUILTIN:
        try:
            data = BUILTIN.get(name)(**config.options)
        except TypeError as exc:
            raise ConfigError(f"data set {name!r} does not take these options: {exc}") from None
    elif name in DOWNLOADABLE:
        data = load_downloadable(name)
    elif Path(name).suffix or Path(name).exists():
        data = load_file(name, config.target, config.features, config.task)
    else:
        known = BUILTIN.names() + sorted(DOWNLOADABLE)
        raise ConfigError(
            f"unknown data set {name!r}; give a file path or one of: {', '.join(known)}"
        )
    if config.task != "auto" and config.task != data.task:
        data = _as_task(data, config.task)
    return data


def _as_task(data: LoadedData, task: str) -> LoadedData:
    if task == "regression":
        data.y, data.class_names = data.y.astype(np.float32), None
    else:
        from .files import encode_target

        data.y, data.class_names, _ = encode_target(data.y, task, data.name)
    data.task = task  # type: ignore[assignment]
    return data


def list_datasets() -> list[dict[str, Any]]:
    """Every named data set with its task, shape, classes and (downloadable) cache status."""
    from .downloads import DOWNLOADABLE, is_cached

    rows = []
    for name in BUILTIN.names():
        data = BUILTIN.get(name)()
        rows.append(
            {
                "name": name,
                "task": data.task,
                "samples": len(data.X),
                "features": data.n_features,
                "classes": len(data.class_names) if data.class_names else None,
                "source": "built-in",
            }
        )
    for name, spec in DOWNLOADABLE.items():
        rows.append(
            {
                "name": name,
                "task": spec.task,
                "samples": None,
                "features": None,
                "classes": len(spec.class_names) if spec.class_names else None,
                "source": "cached" if is_cached(name) else "download",
            }
        )
    return rows


def read_features(path: str | Path, feature_names: list[str], target: str | None) -> np.ndarray:
    """Features for prediction from a CSV / TSV / Parquet / NPY / NPZ file.

    A table's columns are picked by the names the model was trained on (a target column, if
    present, is ignored); an array file holds the features as they are (``X`` in an NPZ).
    """
    path = Path(path)
    if path.suffix.lower() in ARRAY_SUFFIXES:
        arrays = read_arrays(path)
        if "X" not in arrays:
            raise DataError(f"{path.name} has no array named X; save the features as X")
        X = np.asarray(arrays["X"], dtype=np.float32)
        X = X.reshape(len(X), -1) if X.ndim > 1 else X.reshape(1, -1)
        check_finite(X, path.name)
        return X
    frame = read_table(path)
    missing = [name for name in feature_names if name not in frame.columns]
    if feature_names and not missing:
        return numeric_features(frame[feature_names], path.name)
    columns = [c for c in frame.columns if c != target]
    if len(columns) == len(feature_names) or not feature_names:
        return numeric_features(frame[columns], path.name)
    raise DataError(
        f"{path.name} lacks the feature column(s) {missing[:5]} the model was trained on; "
        "give a file with the same feature columns"
    )
