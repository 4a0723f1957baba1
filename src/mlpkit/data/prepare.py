"""From a data config to the parts ``fit`` takes: load, split, fit the preprocessing on the
training part, and turn each part into model inputs.

In-memory data becomes ``(inputs, targets)`` arrays (inputs a dict with named input groups); a
memory-mapped NPY file too large for memory becomes ``ArrayRows`` datasets that read and
preprocess one batch at a time. Every check of the data happens here, before a run writes
anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import DataError
from .encode import check_missing
from .groups import group_indices, split_groups
from .loading import load_data
from .missing import filled_counts
from .preprocess import Preprocessor, Standardizer
from .source import Features, LoadedData, take_rows
from .split import split_indices
from .stream import ArrayRows
from .target import TargetScaler

if TYPE_CHECKING:
    from ..config import DataConfig, RunConfig


@dataclass
class PreparedData:
    """A data set split and preprocessed, ready for ``fit``.

    Each part is ``(inputs, targets)`` arrays (inputs a dict with named input groups), or an
    ``ArrayRows`` dataset that reads and preprocesses batches of a memory-mapped file.
    """

    source: LoadedData
    preprocessor: Preprocessor
    train: Any
    val: Any | None
    test: Any | None
    y_train: np.ndarray
    target_scaler: TargetScaler | None = None
    groups: dict[str, np.ndarray] | None = None
    # Per part (training, validation, test): missing values filled, per column, and values of
    # categories unseen in training, per column (for the run summary).
    filled: dict[str, dict[str, int]] = field(default_factory=dict)
    unknown: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def scaler(self) -> Standardizer:
        return self.preprocessor.scaler_

    @property
    def n_inputs(self) -> int:
        """Model inputs per sample after preprocessing (one-hot encoding widens tables)."""
        return self.preprocessor.n_outputs_


def prepare_data(
    config: RunConfig,
    preprocessor: Preprocessor | None = None,
    target_scaler: TargetScaler | None = None,
) -> PreparedData:
    """Load, split (seeded), and fit the preprocessing on the training part only.

    A fitted ``preprocessor`` (and ``target_scaler``), e.g. a saved model's, is used as is.
    Every check of the data happens here, before a run writes anything.
    """
    settings = config.data
    data = load_data(settings)
    parts = split_indices(data, settings.val_fraction, settings.test_fraction, config.train.seed)
    stream = _should_stream(settings.stream, data.X)
    if settings.impute in (None, "none") and preprocessor is None:
        # Over whole files, so that the counts are the ones a user sees in them. A streamed
        # file's training rows are checked in the pass that fits the preprocessor instead.
        for raw, where, rows in _raw_parts(data, settings, parts if stream else None):
            check_missing(raw, where, data.feature_names, rows=rows)
    if preprocessor is None:
        preprocessor = preprocessor_for(settings).fit(
            data.X, parts.train, names=data.feature_names, source=f"{data.name} (training part)"
        )
    groups = None
    if settings.groups:
        groups = group_indices(
            settings.groups, preprocessor.output_columns_, preprocessor.output_names_
        )
    y_train = data.y[parts.train]
    if data.task == "regression" and len(y_train) > 1 and not np.ptp(y_train, axis=0).any():
        raise DataError(
            f"the target of {data.name} is {float(y_train.flat[0]):g} in every training row, so "
            "there is nothing to learn; choose another --target (or check the file)"
        )
    # A classification target is never scaled (scale_target, on by default, is for regression).
    if settings.scale_target and data.task == "regression" and target_scaler is None:
        target_scaler = TargetScaler.fit(y_train)
    scaled = (lambda y: y) if target_scaler is None else target_scaler.transform
    inputs = ModelInputs(preprocessor, groups)

    filled: dict[str, dict[str, int]] = {}
    unknown: dict[str, dict[str, int]] = {}

    def part(raw: Features, y: np.ndarray, rows: np.ndarray | None, key: str, where: str) -> Any:
        if rows is not None and len(rows) == 0:
            return None
        if preprocessor.imputes and not stream:
            filled[key] = filled_counts(raw, rows, preprocessor.columns_)
        if isinstance(raw, pd.DataFrame):  # an array has no categories
            unknown[key] = preprocessor.unknown_counts(raw, rows)
        if stream and isinstance(raw, np.ndarray):
            return ArrayRows(raw, y, rows, transform=ModelInputs(preprocessor, groups, where))
        if rows is None:
            return inputs(raw, where), y
        if isinstance(raw, pd.DataFrame):  # a table's part is encoded from it, not copied
            return inputs(raw, where, rows), y[rows]
        return inputs(take_rows(raw, rows), where), y[rows]

    name, y = data.name, scaled(data.y)
    train = part(data.X, y, parts.train, "training", f"{name} (training part)")
    val = (
        part(
            data.val[0],
            scaled(data.val[1]),
            None,
            "validation",
            settings.val or f"{name} (validation part)",
        )
        if data.val is not None
        else part(data.X, y, parts.val, "validation", f"{name} (validation part)")
    )
    test = (
        part(
            data.test[0], scaled(data.test[1]), None, "test", settings.test or f"{name} (test part)"
        )
        if data.test is not None
        else part(data.X, y, parts.test, "test", f"{name} (test part)")
    )
    return PreparedData(
        data, preprocessor, train, val, test, y_train, target_scaler, groups, filled, unknown
    )


class ModelInputs:
    """Raw features to what the model takes: the preprocessed matrix, or a dict of named input
    groups. A class rather than a closure, so that DataLoader workers can receive it."""

    def __init__(
        self,
        preprocessor: Preprocessor,
        groups: dict[str, np.ndarray] | None = None,
        source: str = "the data",
    ) -> None:
        self.preprocessor = preprocessor
        self.groups = groups
        self.source = source

    def __call__(
        self, raw: Features, source: str | None = None, rows: np.ndarray | None = None
    ) -> Any:
        X = self.preprocessor.transform(raw, source or self.source, rows)
        return X if self.groups is None else split_groups(X, self.groups)


def _raw_parts(
    data: LoadedData, settings: Any, parts: Any = None
) -> list[tuple[Features, str, np.ndarray | None]]:
    """What to check for missing values: the whole data (or, given ``parts``, its validation
    and test rows only) and any separate validation and test data."""
    rows = None if parts is None else np.concatenate([parts.val, parts.test])
    found = [(data.X, str(settings.name), rows)]
    for part, path in ((data.val, settings.val), (data.test, settings.test)):
        if part is not None:
            found.append((part[0], str(path or f"{data.name} (official test split)"), None))
    return found


def _should_stream(setting: bool | None, X: Features) -> bool:
    """Stream when asked, or by default when a memory-mapped array would not fit in memory."""
    if not isinstance(X, np.ndarray):
        return False  # a table is in memory already
    if setting is not None:
        return setting
    if not isinstance(X, np.memmap):
        return False
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return False
    # As float32 inputs, with room left for the model, the batches and the original.
    return X.shape[0] * int(np.prod(X.shape[1:])) * 4 > available // 2


def preprocessor_for(settings: DataConfig) -> Preprocessor:
    """An unfitted ``Preprocessor`` as the data settings say (mlpkit train, the estimators)."""
    return Preprocessor(
        settings.impute,
        settings.unknown_category,
        standardize=settings.scale_features,
        scaling=settings.numeric_scaling,
        max_levels=settings.max_categories,
        indicators=settings.missing_indicators,
    )
