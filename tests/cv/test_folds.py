"""Fold assignment: every row held out exactly once, classes shared out evenly, seeded, and
impossible fold counts refused with the fix."""

from __future__ import annotations

import numpy as np
import pytest

from mlpkit.cv import assign_folds, training_rows
from mlpkit.errors import ConfigError, DataError

LABELS = np.repeat([0, 1, 2], [60, 30, 12])  # unbalanced: 102 rows


def test_folds_are_disjoint_and_cover_every_row_once():
    folds = assign_folds(LABELS, 5, seed=3, stratify=True)
    assert len(folds) == 5
    assert np.array_equal(np.sort(np.concatenate(folds)), np.arange(len(LABELS)))
    for held, train in zip(folds, training_rows(folds, len(LABELS)), strict=True):
        assert not set(held) & set(train)
        assert len(held) + len(train) == len(LABELS)


def test_stratified_folds_hold_each_class_in_proportion():
    for held in assign_folds(LABELS, 4, seed=0, stratify=True):
        counts = np.bincount(LABELS[held], minlength=3)
        assert np.all(np.abs(counts - np.array([60, 30, 12]) / 4) <= 1), counts


def test_folds_are_seeded():
    y = np.arange(40, dtype=np.float32)  # regression: plain shuffled k-fold
    first = assign_folds(y, 4, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip(first, assign_folds(y, 4, seed=7), strict=True))
    other = assign_folds(y, 4, seed=8)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    assert first[0].tolist() != list(range(10))  # shuffled, not cut in order


@pytest.mark.parametrize(
    ("folds", "error", "fix"),
    [
        (1, ConfigError, "give e.g. --folds 5"),
        (0, ConfigError, "give e.g. --folds 5"),
        (103, DataError, "give --folds 102 or fewer"),
        (13, DataError, "give --folds 12 or fewer"),  # class 2 has 12 rows
    ],
)
def test_impossible_fold_counts_are_refused_with_the_fix(folds, error, fix):
    with pytest.raises(error) as raised:
        assign_folds(LABELS, folds, stratify=True)
    message = str(raised.value)
    assert "\n" not in message and message.endswith(fix)
