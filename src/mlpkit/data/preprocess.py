"""Preprocessing fitted on the training part only and stored with the model as JSON.

``Preprocessor`` turns raw features (an array, or a table with text and missing values) into the
float32 matrix a model takes: missing values imputed, categorical columns one-hot encoded,
numeric columns standardised. Train, evaluate and predict all go through the same fitted object,
saved in ``model.json`` (no pickle).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from .encode import (
    IMPUTE_STRATEGIES,
    UNKNOWN_CATEGORY,
    category_text,
    check_finite_output,
    check_missing,
    check_statistics,
    fill_value,
    is_categorical,
    numeric_array,
    one_hot,
    raise_missing,
    row_chunks,
)
from .source import Features

log = logging.getLogger(__name__)
MANY_CATEGORIES = 100  # more than this in one column is likely an identifier, not a category


@dataclass
class Standardizer:
    """Feature standardisation ``(x - mean) / std``; constant features keep a scale of 1.

    >>> s = Standardizer.fit(np.array([[0.0], [2.0]]))
    >>> s.transform(np.array([[2.0]]))
    array([[1.]], dtype=float32)
    """

    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scale: np.ndarray = field(default_factory=lambda: np.ones(0))

    @classmethod
    def fit(
        cls, X: np.ndarray, rows: np.ndarray | None = None, fill: np.ndarray | None = None
    ) -> Standardizer:
        """Statistics over ``X[rows]`` (all rows by default), in chunks of rows in float64.

        A memory-mapped ``X`` is read a chunk at a time, never copied whole. ``fill`` replaces
        missing values column by column first.
        """
        mean, m2, count, _ = _moments(X, rows, fill)
        return cls.from_moments(mean, m2, count)

    @classmethod
    def from_moments(cls, mean: np.ndarray, m2: np.ndarray, count: int) -> Standardizer:
        scale = np.sqrt(m2 / max(count, 1))
        scale[scale < 1e-12] = 1.0
        return cls(mean, scale)

    @classmethod
    def identity(cls, n_features: int) -> Standardizer:
        return cls(np.zeros(n_features), np.ones(n_features))

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != len(self.mean):
            got = X.shape[1] if X.ndim == 2 else X.shape
            raise DataError(
                f"expected {len(self.mean)} features per row but got {got}; "
                "give the same feature columns the model was trained on"
            )
        # One new array, scaled in place: float32 inputs never make a float64 copy, and a large
        # image set is not allocated three times over (each fresh array costs page faults).
        dtype = np.float64 if X.dtype == np.float64 else np.float32
        out = np.subtract(X, self.mean.astype(dtype), dtype=dtype)
        out /= self.scale.astype(dtype)
        return out.astype(np.float32, copy=False)

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X) * self.scale + self.mean).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Standardizer:
        return cls(np.asarray(state["mean"], dtype=np.float64), np.asarray(state["scale"]))


@np.errstate(over="ignore", invalid="ignore")  # an overflow is refused by check_statistics
def _moments(
    X: np.ndarray, rows: np.ndarray | None, fill: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Column means, sums of squared deviations, the row count and missing values per column,
    merged chunk by chunk in one pass (a memory-mapped file is read once)."""
    width = int(np.prod(X.shape[1:])) if X.ndim > 1 else 1
    mean, m2, count = np.zeros(width), np.zeros(width), 0
    missing = np.zeros(width, dtype=np.int64)
    for chunk in row_chunks(X, rows):
        block = chunk.astype(np.float64)
        nan = np.isnan(block)
        missing += nan.sum(axis=0)
        if fill is not None:
            np.copyto(block, fill, where=nan)
        b_count, b_mean = len(block), block.mean(axis=0)
        block -= b_mean
        b_m2 = np.einsum("ij,ij->j", block, block)
        # Chan et al.'s pairwise update: stable even for large means and many rows.
        total = count + b_count
        delta = b_mean - mean
        mean = mean + delta * b_count / total
        m2 = m2 + b_m2 + delta**2 * count * b_count / total
        count = total
    return mean, m2, count, missing


class Preprocessor:
    """Raw features to the model's float32 inputs: impute, one-hot encode, standardise.

    Settings go to the constructor; ``fit`` learns, from the training part only, the columns,
    the values that replace missing ones (``impute``: mean, median or most_frequent; categorical
    columns always use their most frequent category), each categorical column's categories and
    the numeric columns' means and scales. Output columns follow the input columns, each
    categorical column widened in place into one indicator per category (not standardised).

    >>> table = pd.DataFrame({"size": [1.0, 3.0], "color": ["red", "blue"]})
    >>> p = Preprocessor().fit(table)
    >>> p.output_names_
    ['size', 'color=blue', 'color=red']
    >>> p.transform(table).tolist()
    [[-1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]
    """

    def __init__(
        self,
        impute: str | None = None,
        unknown_category: str = "error",
        standardize: bool = True,
    ) -> None:
        if impute is not None and impute not in IMPUTE_STRATEGIES:
            raise ConfigError(
                f"unknown impute strategy {impute!r}; use one of {', '.join(IMPUTE_STRATEGIES)}"
            )
        if unknown_category not in UNKNOWN_CATEGORY:
            raise ConfigError(
                f"unknown_category must be 'error' or 'ignore', got {unknown_category!r}"
            )
        self.impute = impute
        self.unknown_category = unknown_category
        self.standardize = standardize

    # -- learning --------------------------------------------------------------------------------
    def fit(
        self,
        X: Features,
        rows: np.ndarray | None = None,
        *,
        names: list[str] | None = None,
        source: str = "the training part",
    ) -> Preprocessor:
        """Learn from ``X`` (its ``rows`` only, if given: the training part).

        ``names`` labels an array's columns (default ``x0, x1, ...``).
        """
        if isinstance(X, pd.DataFrame):
            return self._fit_table(X if rows is None else X.iloc[rows], source)
        if X.ndim != 2:
            raise DataError(f"features must be a table or a 2-D array, got shape {X.shape}")
        self.input_ = "array"
        self.columns_ = list(names) if names else [f"x{i}" for i in range(X.shape[1])]
        self.categories_: dict[str, list[str]] = {}
        self.fill_: list[Any] | None = None
        if self.impute is not None:
            self.fill_ = self._array_fill(X, rows)
        if not self.standardize:
            if self.fill_ is None:
                check_missing(X, source, self.columns_, rows=rows)
            self.scaler_ = Standardizer.identity(X.shape[1])
            return self
        fill = None if self.fill_ is None else np.asarray(self.fill_, dtype=np.float64)
        mean, m2, count, missing = _moments(X, rows, fill)
        if self.fill_ is None:
            raise_missing(missing, self.columns_, source)  # counted in the same pass
        self.scaler_ = Standardizer.from_moments(mean, m2, count)
        check_statistics(self.scaler_.mean, self.scaler_.scale, self.columns_, source)
        return self

    def _array_fill(self, X: np.ndarray, rows: np.ndarray | None) -> list[Any]:
        if self.impute == "mean":
            # Chunked, so that a memory-mapped array is never read whole.
            total, count = np.zeros(X.shape[1]), np.zeros(X.shape[1])
            for chunk in row_chunks(X, rows):
                block = chunk.astype(np.float64)
                total += np.nansum(block, axis=0)
                count += (~np.isnan(block)).sum(axis=0)
            if (count == 0).any():
                fill_value([], "mean", self.columns_[int(np.flatnonzero(count == 0)[0])])
            return (total / count).tolist()
        part = np.asarray(X if rows is None else X[rows], dtype=np.float64)
        return [
            fill_value(part[:, j], self.impute or "", self.columns_[j])
            for j in range(part.shape[1])
        ]

    def _fit_table(self, frame: pd.DataFrame, source: str) -> Preprocessor:
        self.input_ = "table"
        self.columns_ = [str(c) for c in frame.columns]
        frame = frame.set_axis(self.columns_, axis=1)
        kinds = {c: is_categorical(frame[c]) for c in self.columns_}
        frame = frame.assign(**{c: category_text(frame[c]) for c in self.columns_ if kinds[c]})
        self.categories_ = {}
        self.fill_ = None
        if self.impute is None:
            check_missing(frame, source)
        else:
            self.fill_ = [fill_value(frame[c], self.impute, c) for c in self.columns_]
        filled = self._fill_table(frame)
        for column in self.columns_:
            if kinds[column]:
                self.categories_[column] = sorted(filled[column].dropna().unique().tolist())
                if len(self.categories_[column]) > MANY_CATEGORIES:
                    log.warning(
                        "column %r has %d categories, one input each; leave it out with "
                        "--features if it is an identifier",
                        column,
                        len(self.categories_[column]),
                    )
        numeric = self._numeric(filled, source)
        self.scaler_ = (
            Standardizer.fit(numeric)
            if self.standardize
            else Standardizer.identity(numeric.shape[1])
        )
        names = [c for c in self.columns_ if c not in self.categories_]
        check_statistics(self.scaler_.mean, self.scaler_.scale, names, source)
        return self

    # -- applying --------------------------------------------------------------------------------
    def transform(self, X: Features, source: str = "the data") -> np.ndarray:
        """The float32 model inputs for raw features laid out as in ``fit``, checked finite."""
        out = self._transform(X, source)
        index = X.index if isinstance(X, pd.DataFrame) else None
        check_finite_output(out, self.output_names_, source, index)
        return out

    @np.errstate(over="ignore", invalid="ignore")  # such values are refused by transform
    def _transform(self, X: Features, source: str) -> np.ndarray:
        self._check_fitted()
        if self.input_ == "array":
            if isinstance(X, pd.DataFrame):
                X = X.to_numpy()
            X = np.asarray(X)
            X = X.reshape(len(X), -1) if X.ndim != 2 else X
            if X.shape[1] != len(self.columns_):
                raise DataError(
                    f"{source} has {X.shape[1]} features per row but the model was trained on "
                    f"{len(self.columns_)}; give the same features"
                )
            if self.fill_ is not None:
                X = self._fill_array(X)
            else:
                check_missing(X, source, self.columns_)
            return self.scaler_.transform(X)
        if not isinstance(X, pd.DataFrame):
            raise DataError(
                f"the model was trained on a table with columns {self.columns_[:5]}...; "
                "give a CSV, TSV or Parquet file with those columns"
            )
        missing = [c for c in self.columns_ if c not in set(map(str, X.columns))]
        if missing:
            raise DataError(
                f"{source} lacks the feature column(s) {missing[:5]} the model was trained on; "
                "give a file with the same feature columns"
            )
        frame = X.set_axis([str(c) for c in X.columns], axis=1)[self.columns_]
        frame = frame.assign(**{c: category_text(frame[c]) for c in self.categories_})
        if self.fill_ is None:
            check_missing(frame, source)
        frame = self._fill_table(frame)
        numeric = self.scaler_.transform(self._numeric(frame, source))
        parts, next_numeric = [], 0
        for column in self.columns_:
            if column in self.categories_:
                parts.append(
                    one_hot(
                        frame[column],
                        self.categories_[column],
                        self.unknown_category,
                        column,
                        source,
                    )
                )
            else:
                parts.append(numeric[:, next_numeric : next_numeric + 1])
                next_numeric += 1
        return np.concatenate(parts, axis=1) if parts else np.zeros((len(frame), 0), np.float32)

    def fit_transform(self, X: Features, source: str = "the training part") -> np.ndarray:
        return self.fit(X, source=source).transform(X, source)

    def _fill_array(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32 if X.dtype != np.float64 else np.float64)
        if not np.isnan(X).any():
            return X
        fill = np.asarray(self.fill_, dtype=X.dtype)
        return np.where(np.isnan(X), fill, X)

    def _fill_table(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.fill_ is None:
            return frame
        return frame.fillna(dict(zip(self.columns_, self.fill_, strict=True)))

    def _numeric(self, frame: pd.DataFrame, source: str) -> np.ndarray:
        columns = [c for c in self.columns_ if c not in self.categories_]
        return numeric_array(frame, columns, source)

    # -- what it learned ------------------------------------------------------------------------
    @property
    def output_names_(self) -> list[str]:
        """One name per output column: the column, or ``column=category`` for indicators."""
        self._check_fitted()
        names = []
        for column in self.columns_:
            if column in self.categories_:
                names += [f"{column}={c}" for c in self.categories_[column]]
            else:
                names.append(column)
        return names

    @property
    def output_columns_(self) -> list[str]:
        """The input column each output column comes from (for named input groups)."""
        self._check_fitted()
        sources = []
        for column in self.columns_:
            sources += [column] * len(self.categories_.get(column, [None]))
        return sources

    @property
    def n_outputs_(self) -> int:
        return len(self.output_columns_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "scaler_"):
            raise ConfigError("the preprocessor is not fitted; call fit() on the training part")

    # -- saving ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "input": self.input_,
            "columns": self.columns_,
            "impute": self.impute,
            "fill": self.fill_,
            "categories": self.categories_,
            "unknown_category": self.unknown_category,
            "scale_features": self.standardize,
            "standardize": self.scaler_.to_dict(),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Preprocessor:
        """A fitted preprocessor from ``to_dict`` output (also reads the older
        ``{"standardize": {...}}``-only form)."""
        scaler = Standardizer.from_dict(state["standardize"])
        self = cls(state.get("impute"), state.get("unknown_category", "error"))
        self.input_ = state.get("input", "array")
        self.columns_ = list(state.get("columns") or [f"x{i}" for i in range(len(scaler.mean))])
        self.fill_ = state.get("fill")
        self.categories_ = {k: list(v) for k, v in (state.get("categories") or {}).items()}
        self.standardize = bool(state.get("scale_features", True))
        self.scaler_ = scaler
        return self

    def __repr__(self) -> str:
        return (
            f"Preprocessor(impute={self.impute!r}, unknown_category={self.unknown_category!r}, "
            f"standardize={self.standardize})"
        )
