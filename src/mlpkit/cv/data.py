"""The data of a cross-validation: prepared once, cut into folds, and preprocessed per fold.

As scikit-learn's ``cross_val_score`` on a ``Pipeline`` does, each fold's preprocessing
(imputation, scaling, category levels) is fitted on its training folds only, so that nothing
of a held-out fold leaks into the model scored on it: all rows are preprocessed once per fold,
and member k reads its own matrix. Where the folds' preprocessing would give inputs of
different widths (a category level or a missing-value indicator that some fold's training
rows lack) or the K matrices would not fit in memory, one preprocessing fitted on all the rows
serves every fold instead, and ``FoldData.preprocessing`` says so. A regression target is
standardised once, on all the rows (the batches share one target column); metrics are in the
target's original units either way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from ..config import RunConfig
from ..data.batching import as_targets, to_tensor
from ..data.prepare import PreparedData, prepare_data, preprocessor_for
from ..data.preprocess import Preprocessor
from ..data.split import split_indices
from ..errors import ConfigError
from .folds import assign_folds, training_rows

log = logging.getLogger(__name__)

PER_FOLD = "fitted per fold, on its training folds"
MEMORY_LIMIT = 2**30  # bytes of per-fold input matrices beyond which one preprocessing serves


@dataclass
class FoldData:
    """Rows cut into folds: ``inputs`` (K, n, in) per fold or (n, in) shared, ``targets`` (n,)
    (scaled as the model learns them), ``held_out[k]`` / ``training[k]`` the positions fold k
    holds out and trains on; ``test`` a test part kept aside (inputs (K, m, in) or (m, in),
    targets), or None."""

    prepared: PreparedData
    inputs: torch.Tensor
    targets: torch.Tensor
    held_out: list[np.ndarray]
    training: list[np.ndarray]
    preprocessing: str
    test: tuple[torch.Tensor, torch.Tensor] | None
    preprocessors: list[Preprocessor]  # each fold's, where fitted per fold; else empty

    @property
    def folds(self) -> int:
        return len(self.held_out)

    @property
    def per_fold(self) -> bool:
        return self.inputs.dim() == 3

    def fold_inputs(self, k: int, positions: np.ndarray) -> torch.Tensor:
        """Fold ``k``'s inputs of the rows at ``positions``."""
        index = torch.as_tensor(positions, dtype=torch.long)
        matrix = self.inputs[k] if self.per_fold else self.inputs
        return matrix.index_select(0, index)


def cv_config(config: RunConfig) -> RunConfig:
    """The config as cross-validation prepares its data: no validation part (the folds are the
    validation), and a test part only where one is asked for (``test_fraction``, a test file or
    a data set's official test split)."""
    resolved = config.model_copy(deep=True)
    if resolved.data.val is not None:
        log.warning("cross-validation scores each fold on its held-out rows; --val is not used")
        resolved.data.val = None
    resolved.data.val_fraction = 0.0
    if resolved.data.test_fraction is None:
        resolved.data.test_fraction = 0.0
    return resolved


def prepare_folds(config: RunConfig, folds: int) -> FoldData:
    """Load and check the data once (as ``mlpkit train`` does, with ``cv_config``'s parts),
    assign the folds (stratified for classification, seeded by ``config.train.seed``) and
    preprocess each fold's inputs."""
    prepared = prepare_data(config)
    if not isinstance(prepared.train, tuple):
        raise ConfigError(
            "cross-validation holds the data in memory; leave out --stream (or use a smaller file)"
        )
    if prepared.groups:
        raise ConfigError("cross-validation trains plain MLPs; leave out the input groups")
    source, seed = prepared.source, config.train.seed
    y = prepared.train[1]
    classification = source.task == "classification"
    held_out = assign_folds(y, folds, seed, stratify=classification, name=source.name)
    training = training_rows(held_out, len(y))
    inputs, preprocessing, preprocessors = _fold_inputs(config, prepared, training)
    test = None
    if prepared.test is not None:
        test_inputs = to_tensor(prepared.test[0])
        if preprocessors:
            test_inputs = _test_inputs(config, prepared, preprocessors)
        test = (test_inputs, as_targets(prepared.test[1]))
    return FoldData(
        prepared, inputs, as_targets(y), held_out, training, preprocessing, test, preprocessors
    )


def _fold_inputs(
    config: RunConfig, prepared: PreparedData, training: list[np.ndarray]
) -> tuple[torch.Tensor, str, list[Preprocessor]]:
    """(K, n, in) inputs, each fold's preprocessing fitted on its training rows, what was done
    and the folds' preprocessors; or the shared (n, in) inputs with the reason."""
    shared = to_tensor(prepared.train[0])
    n, width = shared.shape
    if len(training) * n * width * 4 > MEMORY_LIMIT:
        reason = "per-fold inputs would not fit in memory"
        return shared, f"fitted once on all the folds' rows ({reason})", []
    source, rows = prepared.source, _fold_source_rows(config, prepared)
    matrices, preprocessors = [], []
    for k, train in enumerate(training):
        fold = preprocessor_for(config.data).fit(
            source.X,
            rows[train],
            names=source.feature_names,
            source=f"{source.name} (fold {k + 1}'s training rows)",
        )
        if fold.n_outputs_ != width:
            reason = (
                "the folds' own preprocessing would give inputs of different widths: a "
                "category or missing-value column some folds lack"
            )
            return shared, f"fitted once on all the folds' rows ({reason})", []
        matrices.append(to_tensor(fold.transform(source.X, f"{source.name} (fold {k + 1})", rows)))
        preprocessors.append(fold)
    return torch.stack(matrices), PER_FOLD, preprocessors


def _fold_source_rows(config: RunConfig, prepared: PreparedData) -> np.ndarray:
    """The rows of ``source.X`` that ``prepared.train`` holds, in its order: the split
    ``prepare_data`` made, drawn again from the same seed."""
    data, settings = prepared.source, config.data
    parts = split_indices(data, settings.val_fraction, settings.test_fraction, config.train.seed)
    if len(parts.train) != len(prepared.train[1]):  # the same function and seed: never
        raise AssertionError("the split drawn again differs from prepare_data's")
    return parts.train


def _test_inputs(
    config: RunConfig, prepared: PreparedData, preprocessors: list[Preprocessor]
) -> torch.Tensor:
    """The test part through each fold's own preprocessing: (K, m, in)."""
    source, settings = prepared.source, config.data
    if source.test is not None:
        raw, rows = source.test[0], None
    else:
        parts = split_indices(source, settings.val_fraction, settings.test_fraction,
                              config.train.seed)  # fmt: skip
        raw, rows = source.X, parts.test
    where = settings.test or f"{source.name} (test part)"
    return torch.stack([to_tensor(p.transform(raw, where, rows)) for p in preprocessors])
