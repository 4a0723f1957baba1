"""One entry point for every data source: built-in names, downloadable names and files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from .builtin import BUILTIN
from .encode import is_categorical
from .files import ARRAY_SUFFIXES, as_features, load_file, read_arrays, read_table
from .source import Features, LoadedData

if TYPE_CHECKING:
    from ..config import DataConfig
    from .preprocess import Preprocessor


def load_data(config: DataConfig, classes: Sequence[str] | None = None) -> LoadedData:
    """The data set a config names (built-in, downloadable or a file), with its separate
    validation and test files if the config names some.

    ``classes`` encodes labels as a trained model does (evaluation on new data).

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
        data = load_file(
            name,
            config.target,
            config.features,
            config.task,
            categorical=config.categorical or (),
            classes=classes,
        )
    else:
        known = BUILTIN.names() + sorted(DOWNLOADABLE)
        raise ConfigError(
            f"unknown data set {name!r}; give a file path or one of: {', '.join(known)}"
        )
    if config.task != "auto" and config.task != data.task:
        data = _as_task(data, config.task)
    for part in ("val", "test"):
        path = getattr(config, part)
        if path is not None:
            setattr(data, part, _load_part(path, config, data))
    return data


def _load_part(path: str, config: DataConfig, data: LoadedData) -> tuple[Features, np.ndarray]:
    """A separate validation or test file: the same target and features as the training data,
    and its labels encoded with the training data's classes."""
    features = data.feature_names if isinstance(data.X, pd.DataFrame) else config.features
    part = load_file(
        path,
        config.target,
        features,
        data.task,
        categorical=config.categorical or (),
        classes=data.class_names,
    )
    if part.n_features != data.n_features:
        raise DataError(
            f"{Path(path).name} has {part.n_features} features but the training data has "
            f"{data.n_features}; give it the same features"
        )
    return part.X, part.y


def _as_task(data: LoadedData, task: str) -> LoadedData:
    if task == "regression":
        data.y, data.class_names = data.y.astype(np.float32), None
    else:
        from .files import encode_target

        data.y, data.class_names, _ = encode_target(data.y, task, data.name)
    data.task = task  # type: ignore[assignment]
    return data


def list_datasets() -> list[dict[str, Any]]:
    """Every named data set with its task, shape, classes and (downloadable) cache status.

    >>> next(r for r in list_datasets() if r["name"] == "mnist")["samples"]
    70000
    """
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
                "samples": spec.samples,
                "features": spec.features,
                "classes": len(spec.class_names) if spec.class_names else None,
                "source": "download, cached" if is_cached(name) else "download, not cached",
            }
        )
    return rows


def read_features(path: str | Path, preprocessor: Preprocessor, target: str | None) -> Features:
    """Raw features for prediction from a CSV / TSV / Parquet / NPY / NPZ file.

    A table's columns are picked by the names the model was trained on (a target column, if
    present, is ignored); an array file holds the features as they are (``X`` in an NPZ).
    """
    path = Path(path)
    if path.suffix.lower() in ARRAY_SUFFIXES:
        arrays = read_arrays(path)
        if "X" not in arrays:
            if len(arrays) != 1:
                raise DataError(f"{path.name} has no array named X; save the features as X")
            arrays = {"X": next(iter(arrays.values()))}
        return select_features(as_features(arrays["X"], path.name), preprocessor, target, path.name)
    return select_features(read_table(path), preprocessor, target, path.name)


def select_features(
    X: Features, preprocessor: Preprocessor, target: str | None, source: str
) -> Features:
    """The columns of ``X`` a fitted preprocessor takes, checked as at training time.

    A model trained on a table takes its columns by name; a model trained on an array takes
    a table's columns (less the target) by position when their names differ.
    """
    if not isinstance(X, pd.DataFrame):
        return X
    names = preprocessor.columns_
    columns = [str(c) for c in X.columns]
    if set(names) <= set(columns):
        chosen = X.set_axis(columns, axis=1)[names]
    elif preprocessor.input_ == "array":
        chosen = X[[c for c in X.columns if str(c) != target]]
    else:
        missing = [n for n in names if n not in columns]
        raise DataError(
            f"{source} lacks the feature column(s) {missing[:5]} the model was trained on; "
            "give a file with the same feature columns"
        )
    chosen = as_features(chosen, source, list(preprocessor.categories_))
    if preprocessor.input_ == "array":
        text = [str(c) for c in chosen.columns if is_categorical(chosen[c])]
        if text:
            raise DataError(
                f"column {text[0]!r} of {source} holds text, but the model was trained on "
                "numbers only; give numeric features"
            )
        return np.asarray(chosen.to_numpy(dtype=np.float64, na_value=np.nan))
    return chosen
