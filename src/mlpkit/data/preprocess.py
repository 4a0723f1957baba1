"""Preprocessing fitted on the training part only and stored with the model as JSON.

``Preprocessor`` turns raw features (an array, or a table with text and missing values) into the
float32 matrix a model takes: missing values filled (with a missing-value indicator where the
training part had gaps), categorical columns one-hot encoded (``levels.py``), numeric columns
scaled (``scaling.py``). Train, evaluate and predict all go through the same fitted object,
saved in ``model.json`` (no pickle).
"""

from __future__ import annotations

import logging
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
    feature_table,
    fill_value,
    is_categorical,
    missing_counts,
    numeric_column,
    raise_missing,
)
from .levels import MAX_LEVELS, MISSING_LEVEL, OTHER_LEVEL, fit_levels, unseen_counts
from .missing import array_fill
from .scaling import (
    SCALINGS,
    Standardizer,
    fit_quantiles,
    moments,
    quantile_normal,
    robust_standardizer,
    sample_rows,
    smooth_clip,
)
from .source import Features
from .table_matrix import TableLayout

__all__ = ["Preprocessor", "Standardizer"]
log = logging.getLogger(__name__)
MISSING_SUFFIX = "=" + MISSING_LEVEL  # the name of a numeric column's missing-value indicator


class Preprocessor:
    """Raw features to the model's float32 inputs: impute, one-hot encode, scale.

    Settings go to the constructor; ``fit`` learns, from the training part only, the columns,
    the values that replace missing ones (``impute``: median, mean or most_frequent for numeric
    columns, a ``(missing)`` category for categorical ones; ``"none"`` refuses missing values),
    each categorical column's levels and the numeric columns' scaling (``scaling``: standard,
    robust or quantile). Output columns follow the input columns: a numeric column that had
    gaps in the training part is followed by its missing-value indicator, and each categorical
    column is widened in place into one indicator per level (not scaled).

    >>> table = pd.DataFrame({"size": [1.0, 3.0], "color": ["red", "blue"]})
    >>> p = Preprocessor(scaling="standard").fit(table)
    >>> p.output_names_
    ['size', 'color=blue', 'color=red']
    >>> p.transform(table).tolist()
    [[-1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]
    """

    def __init__(
        self,
        impute: str | None = "median",
        unknown_category: str = "ignore",
        standardize: bool = True,
        scaling: str = "robust",
        max_levels: int = MAX_LEVELS,
        indicators: bool = True,
    ) -> None:
        if impute not in (None, "none", *IMPUTE_STRATEGIES):
            raise ConfigError(
                f"unknown impute strategy {impute!r}; use one of "
                f"{', '.join(IMPUTE_STRATEGIES)} or none"
            )
        if unknown_category not in UNKNOWN_CATEGORY:
            raise ConfigError(
                f"unknown_category must be 'error' or 'ignore', got {unknown_category!r}"
            )
        if scaling not in SCALINGS:
            raise ConfigError(
                f"numeric_scaling must be one of {', '.join(SCALINGS)}, got {scaling!r}"
            )
        if max_levels < 2:
            raise ConfigError(f"max_categories must be at least 2, got {max_levels}")
        self.impute = impute
        self.unknown_category = unknown_category
        self.standardize = standardize
        self.scaling = scaling
        self.max_levels = max_levels
        self.add_indicators = indicators

    @property
    def imputes(self) -> bool:
        """Whether missing values are filled (else refused)."""
        return self.impute not in (None, "none")

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
        self.quantiles_: np.ndarray | None = None
        if isinstance(X, pd.DataFrame):
            return self._fit_table(X, rows, source)
        if X.ndim != 2:
            raise DataError(f"features must be a table or a 2-D array, got shape {X.shape}")
        self.input_ = "array"
        self.columns_ = list(names) if names else [f"x{i}" for i in range(X.shape[1])]
        self.categories_: dict[str, list[str]] = {}
        self.fill_: list[Any] | None = None
        if self.imputes:
            self.fill_ = array_fill(X, rows, str(self.impute), self.columns_)
        fill = None if self.fill_ is None else np.asarray(self.fill_, dtype=np.float64)
        if self.standardize and self.scaling == "standard":
            mean, m2, count, missing = moments(X, rows, fill)  # missing counted in the same pass
        else:
            missing = missing_counts(X, rows)
        if not self.imputes:
            raise_missing(missing, self.columns_, source)
        self._learn_missing(dict(zip(self.columns_, missing.tolist(), strict=True)))
        if not self.standardize:
            self.scaler_ = Standardizer.identity(X.shape[1])
        elif self.scaling == "standard":
            self.scaler_ = Standardizer.from_moments(mean, m2, count)
        else:
            sample = sample_rows(X, rows)
            if fill is not None:
                sample = np.where(np.isnan(sample), fill, sample)
            self._fit_order_statistics(sample)
        check_statistics(self.scaler_.mean, self.scaler_.scale, self.columns_, source)
        return self

    def _learn_missing(self, counts: dict[str, int]) -> None:
        """Missing values per column of the training part; numeric columns with gaps get an
        indicator input (where imputing: else there were none)."""
        self.missing_ = {c: int(n) for c, n in counts.items() if n}
        wanted = self.add_indicators and self.imputes
        self.indicators_ = [c for c in self.missing_ if c not in self.categories_] if wanted else []

    def _fit_order_statistics(self, X: np.ndarray) -> None:
        """Robust or quantile scaling of the filled training values ``X``."""
        if self.scaling == "quantile":
            self.quantiles_ = fit_quantiles(X)
            self.scaler_ = Standardizer.identity(X.shape[1])
        else:
            self.scaler_ = robust_standardizer(X)

    def _fit_table(self, X: pd.DataFrame, rows: np.ndarray | None, source: str) -> Preprocessor:
        """Learn from the ``rows`` of a table (all by default), a column at a time: the
        training part is never copied whole."""
        self.input_ = "table"
        self.columns_ = [str(c) for c in X.columns]
        frame = X.set_axis(self.columns_, axis=1)

        def part(values: Any) -> Any:
            if rows is None:
                return values
            return values.iloc[rows] if isinstance(values, pd.Series) else values[rows]

        kinds = {c: is_categorical(frame[c]) for c in self.columns_}
        text = {c: category_text(frame[c]) for c in self.columns_ if kinds[c]}
        if not self.imputes:
            check_missing(frame, source, rows=rows)
        self.categories_ = {
            c: fit_levels(part(text[c]), self.max_levels, missing=self.imputes) for c in text
        }
        for column, levels in self.categories_.items():
            if OTHER_LEVEL in levels:
                log.info(
                    "column %r has %d categories: the %d most frequent get an input each, the "
                    "others share one (%s)",
                    column,
                    part(text[column]).nunique(),
                    self.max_levels - 1,
                    OTHER_LEVEL,
                )
        counts = missing_counts(frame, rows)
        self._learn_missing(dict(zip(self.columns_, counts.tolist(), strict=True)))
        self.fill_ = None
        if self.imputes:
            self.fill_ = [
                (MISSING_LEVEL if MISSING_LEVEL in self.categories_[c] else None)
                if kinds[c]
                else fill_value(part(frame[c]), str(self.impute), c)
                for c in self.columns_
            ]
        names = [c for c in self.columns_ if c not in self.categories_]
        numeric = np.empty((len(frame) if rows is None else len(rows), len(names)), order="F")
        fills = dict(zip(self.columns_, self.fill_ or [None] * len(self.columns_), strict=True))
        for j, column in enumerate(names):
            numeric[:, j] = part(numeric_column(frame, column, source))
            if fills[column] is not None:
                np.copyto(numeric[:, j], fills[column], where=np.isnan(numeric[:, j]))
        if not self.standardize:
            self.scaler_ = Standardizer.identity(numeric.shape[1])
        elif self.scaling == "standard":
            self.scaler_ = Standardizer.fit(numeric)
        else:
            self._fit_order_statistics(numeric)
        check_statistics(self.scaler_.mean, self.scaler_.scale, names, source)
        return self

    # -- applying --------------------------------------------------------------------------------
    def transform(
        self, X: Features, source: str = "the data", rows: np.ndarray | None = None
    ) -> np.ndarray:
        """The float32 model inputs for raw features laid out as in ``fit``, checked finite;
        of the table ``X``'s ``rows`` only (positions), if given."""
        if rows is not None and not isinstance(X, pd.DataFrame):
            X, rows = X[rows], None
        out = self._transform(X, source, rows)
        index = X.index if isinstance(X, pd.DataFrame) else None
        if index is not None and rows is not None:
            index = index[rows]
        # The names are built only for the error message: 784 of them cost more than a row.
        check_finite_output(out, lambda: self.output_names_, source, index)
        return out

    @np.errstate(over="ignore", invalid="ignore")  # such values are refused by transform
    def _transform(self, X: Features, source: str, rows: np.ndarray | None = None) -> np.ndarray:
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
            gaps = self._gaps(X, self.columns_)
            if self.fill_ is not None:
                X = self._fill_array(X)
            else:
                check_missing(X, source, self.columns_)
            scaled = self._scale(X)
            if not gaps:
                return scaled
            return self._assemble(len(X), dict(zip(self.columns_, scaled.T, strict=True)), gaps)
        frame = feature_table(X, self.columns_, source)
        if self.fill_ is None:
            check_missing(frame, source, rows=rows)
        fills = dict(zip(self.columns_, self.fill_ or [None] * len(self.columns_), strict=True))
        layout = TableLayout(self.columns_, self.categories_, self.indicators_, fills)
        return layout.matrix(frame, self.unknown_category, self._scale, source, rows)

    def _gaps(self, X: np.ndarray, columns: list[str]) -> dict[str, np.ndarray]:
        """The missing-value indicators of ``X`` (its ``columns``) that the model takes."""
        if not self.indicators_:
            return {}
        position = {c: j for j, c in enumerate(columns)}
        return {c: np.isnan(X[:, position[c]]).astype(np.float32) for c in self.indicators_}

    def _scale(self, X: np.ndarray) -> np.ndarray:
        if self.quantiles_ is not None:
            X = quantile_normal(X, self.quantiles_)
        out = self.scaler_.transform(X)
        if self.standardize and self.scaling == "robust":
            smooth_clip(out)
        return out

    def _assemble(
        self, n: int, values: dict[str, np.ndarray], gaps: dict[str, np.ndarray]
    ) -> np.ndarray:
        """One float32 matrix, the columns' outputs in the order of ``output_names_``."""
        parts = []
        for column in self.columns_:
            part = values[column]
            parts.append(part.reshape(n, -1))
            if column in gaps:
                parts.append(gaps[column].reshape(n, 1))
        return (
            np.concatenate(parts, axis=1, dtype=np.float32)
            if parts
            else np.zeros((n, 0), np.float32)
        )

    def fit_transform(self, X: Features, source: str = "the training part") -> np.ndarray:
        return self.fit(X, source=source).transform(X, source)

    def _fill_array(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32 if X.dtype != np.float64 else np.float64)
        if not np.isnan(X).any():
            return X
        fill = np.asarray(self.fill_, dtype=X.dtype)
        return np.where(np.isnan(X), fill, X)

    def unknown_counts(self, X: Features, rows: np.ndarray | None = None) -> dict[str, int]:
        """Per categorical column, the values of a raw table (its ``rows``, all by default)
        unseen in training (or beyond a capped column's levels), which ``transform`` maps to
        ``(other)`` or all zeros."""
        self._check_fitted()
        return unseen_counts(X, self.categories_, rows)

    # -- what it learned ------------------------------------------------------------------------
    @property
    def output_names_(self) -> list[str]:
        """One name per output column: the column, ``column=category`` for indicators, and
        ``column=(missing)`` for a numeric column's missing-value indicator."""
        self._check_fitted()
        names = []
        for column in self.columns_:
            if column in self.categories_:
                names += [f"{column}={c}" for c in self.categories_[column]]
            else:
                names.append(column)
                names += [column + MISSING_SUFFIX] * (column in self.indicators_)
        return names

    @property
    def output_columns_(self) -> list[str]:
        """The input column each output column comes from (for named input groups)."""
        self._check_fitted()
        sources = []
        for column in self.columns_:
            width = len(self.categories_.get(column, [None])) + (column in self.indicators_)
            sources += [column] * width
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
            "missing": self.missing_,
            "missing_indicators": self.indicators_,
            "categories": self.categories_,
            "max_categories": self.max_levels,
            "unknown_category": self.unknown_category,
            "scale_features": self.standardize,
            "numeric_scaling": self.scaling,
            "standardize": self.scaler_.to_dict(),
            "quantiles": None if self.quantiles_ is None else self.quantiles_.tolist(),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Preprocessor:
        """A fitted preprocessor from ``to_dict`` output (also reads older forms: the
        ``{"standardize": {...}}``-only one, and those before missing-value indicators and
        robust scaling, whose absent keys mean standard scaling and no indicators)."""
        scaler = Standardizer.from_dict(state["standardize"])
        self = cls(
            state.get("impute"),
            state.get("unknown_category", "error"),
            bool(state.get("scale_features", True)),
            state.get("numeric_scaling", "standard"),
            int(state.get("max_categories", MAX_LEVELS)),
            bool(state.get("missing_indicators")),
        )
        self.input_ = state.get("input", "array")
        self.columns_ = list(state.get("columns") or [f"x{i}" for i in range(len(scaler.mean))])
        self.fill_ = state.get("fill")
        self.categories_ = {k: list(v) for k, v in (state.get("categories") or {}).items()}
        self.missing_ = dict(state.get("missing") or {})
        self.indicators_ = list(state.get("missing_indicators") or [])
        quantiles = state.get("quantiles")
        self.quantiles_ = None if quantiles is None else np.asarray(quantiles, dtype=np.float64)
        self.scaler_ = scaler
        return self

    def __repr__(self) -> str:
        return (
            f"Preprocessor(impute={self.impute!r}, unknown_category={self.unknown_category!r}, "
            f"standardize={self.standardize}, scaling={self.scaling!r})"
        )
