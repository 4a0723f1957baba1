"""What an exported model takes: raw features as one float matrix and, for a table with
categorical columns, one integer code per categorical column.

An exported file computes a run's whole preprocessing itself (missing-value indicators,
imputation, scaling, one-hot encoding, input groups), so a user feeds it raw values:

- ``features``: float32 ``(batch, numeric columns)``, the numeric columns in the order listed
  in the export's ``model.json`` (``inputs.features``), missing values as NaN (imputed in the
  graph where the run imputed); float64 for a run with quantile scaling, whose graph compares
  raw values with the training quantiles exactly as the run does (a value rounded to float32
  would fall beside a quantile it equals);
- ``categories`` (only where the run has categorical columns): int64 ``(batch, categorical
  columns)``; the code of a value is its position in that column's code table
  (``inputs.categories`` in ``model.json``), ``-1`` is a missing value (the run's fill category
  where it imputed, else all-zero indicators) and any other code, e.g. ``-2``, an unseen category:
  the column's ``(other)`` level where its table has one (a column capped at ``max_categories``),
  else all-zero indicators, as ``unknown_category = "ignore"``.

``graph_inputs`` does that encoding with the same checks as the run's preprocessing, so
``mlpkit predict --engine`` refuses what the eager model refuses, with the same messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..data.encode import category_text, check_missing, numeric_array
from ..data.levels import OTHER_LEVEL, indicators
from ..data.preprocess import Preprocessor
from ..data.source import Features
from ..errors import DataError

MISSING_CODE = -1
UNKNOWN_CODE = -2


@dataclass
class InputLayout:
    """The raw inputs of an exported model: numeric columns, and categorical columns with their
    code tables, each in the order of the run's feature columns."""

    numeric: list[str]
    categories: dict[str, list[str]] = field(default_factory=dict)
    dtype: str = "float32"  # of the features: float64 where quantile scaling compares them

    @classmethod
    def of(cls, preprocessor: Preprocessor) -> InputLayout:
        tables = preprocessor.categories_
        return cls(
            [c for c in preprocessor.columns_ if c not in tables],
            {c: list(tables[c]) for c in preprocessor.columns_ if c in tables},
            "float32" if preprocessor.quantiles_ is None else "float64",
        )

    @property
    def names(self) -> list[str]:
        """The graph's input names, in order."""
        return ["features"] * bool(self.numeric) + ["categories"] * bool(self.categories)

    def describe(self) -> dict[str, Any]:
        """The inputs as ``model.json`` and ``manifest.json`` list them."""
        described: dict[str, Any] = {}
        if self.numeric:
            described["features"] = {
                "dtype": self.dtype,
                "shape": ["batch", len(self.numeric)],
                "columns": self.numeric,
                "missing": "NaN",
            }
        if self.categories:
            described["categories"] = {
                "dtype": "int64",
                "shape": ["batch", len(self.categories)],
                "columns": list(self.categories),
                "codes": self.categories,
                "missing": MISSING_CODE,
                "unknown": UNKNOWN_CODE,
            }
        return described


@np.errstate(over="ignore")  # a value beyond float32 is refused by name (_within_float32)
def graph_inputs(
    raw: Features,
    preprocessor: Preprocessor,
    source: str = "the data",
    layout: InputLayout | None = None,
) -> dict[str, np.ndarray]:
    """Raw features (as ``read_features`` returns them) to an exported model's inputs;
    ``layout`` is ``InputLayout.of(preprocessor)``, given by a caller that encodes many times
    (built anew it costs more than encoding one row).

    >>> table = pd.DataFrame({"size": [1.0, 3.0], "color": ["red", "blue"]})
    >>> inputs = graph_inputs(table, Preprocessor().fit(table))
    >>> inputs["features"].tolist(), inputs["categories"].tolist()
    ([[1.0], [3.0]], [[1], [0]])
    """
    layout = InputLayout.of(preprocessor) if layout is None else layout
    if preprocessor.input_ == "array":
        X = np.asarray(raw.to_numpy() if isinstance(raw, pd.DataFrame) else raw)
        X = X.reshape(len(X), -1) if X.ndim != 2 else X
        if X.shape[1] != len(preprocessor.columns_):
            raise DataError(
                f"{source} has {X.shape[1]} features per row but the model was trained on "
                f"{len(preprocessor.columns_)}; give the same features"
            )
        if preprocessor.fill_ is None:
            check_missing(X, source, preprocessor.columns_)
        features = np.ascontiguousarray(X, dtype=layout.dtype)
        return {"features": _within_float32(features, preprocessor.columns_, source)}
    frame = _table(raw, preprocessor, source)
    inputs: dict[str, np.ndarray] = {}
    if layout.numeric:
        features = numeric_array(frame, layout.numeric, source, np.dtype(layout.dtype))
        inputs["features"] = _within_float32(features, layout.numeric, source)
    if layout.categories:
        codes = [
            _codes(frame[c], table, preprocessor.unknown_category, c, source)
            for c, table in layout.categories.items()
        ]
        inputs["categories"] = np.stack(codes, axis=1)
    return inputs


def _within_float32(features: np.ndarray, columns: list[str], source: str) -> np.ndarray:
    """``features`` if no value is infinite (beyond float32, or inf in the data), else the one
    error the eager model gives: the graph would clip such a value to the smooth clip's limit
    and predict without a word."""
    infinite = np.isinf(features)
    if not infinite.any():
        return features
    row, column = (int(i) for i in np.argwhere(infinite)[0])
    raise DataError(
        f"column {columns[column]!r} of {source} is {features[row, column]} as float32 at data "
        f"row {row + 1}: its value is too large for the model's float32 inputs; rescale the "
        "column or drop such rows"
    )


def _table(raw: Features, preprocessor: Preprocessor, source: str) -> pd.DataFrame:
    if not isinstance(raw, pd.DataFrame):
        raise DataError(
            f"the model was trained on a table with columns {preprocessor.columns_[:5]}...; "
            "give a CSV, TSV or Parquet file with those columns"
        )
    names = [str(c) for c in raw.columns]
    missing = [c for c in preprocessor.columns_ if c not in set(names)]
    if missing:
        raise DataError(
            f"{source} lacks the feature column(s) {missing[:5]} the model was trained on; "
            "give a file with the same feature columns"
        )
    frame = raw.set_axis(names, axis=1)[preprocessor.columns_]
    frame = frame.assign(**{c: category_text(frame[c]) for c in preprocessor.categories_})
    if preprocessor.fill_ is None:
        check_missing(frame, source)
    return frame


def _codes(
    values: pd.Series, table: list[str], unknown: str, column: str, source: str
) -> np.ndarray:
    """A column's codes (text values, missing ones as ``None``), as ``levels.indicators``
    encodes them: an unseen category on ``(other)`` where the table has it, else refused or
    ``UNKNOWN_CODE``."""
    codes = pd.Categorical(values, categories=table).codes.astype(np.int64)
    unseen = (codes < 0) & values.notna().to_numpy()
    if unseen.any():
        if OTHER_LEVEL in table:
            codes[unseen] = table.index(OTHER_LEVEL)
        else:
            # The eager encoding's own check, on the unseen rows only: the same error, or
            # nothing where the run ignores unseen categories.
            indicators(values[unseen], table, unknown, column, source)
            codes[unseen] = UNKNOWN_CODE
    return codes


def as_tensors(inputs: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """The graph's inputs as tensors that share the arrays' memory; a read-only array (an NPY
    file that ``mlpkit predict`` maps into memory) is copied first, as torch shares only
    writable memory (and warns otherwise)."""
    return {
        name: torch.from_numpy(array if array.flags.writeable else array.copy())
        for name, array in inputs.items()
    }
