"""mlpkit draws its splits itself (sparing a run scikit-learn's import) and must draw exactly
the rows that scikit-learn's ``train_test_split`` drew, since every earlier run folder records
its split only by its seed: a resumed or re-exported run must see the same rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from mlpkit.data.builtin import BUILTIN
from mlpkit.data.split import _cut, split_indices
from mlpkit.errors import DataError


def _scikit_learn_cut(rows, labels, size, seed):
    """What mlpkit's split did before, through scikit-learn."""
    if labels is not None:
        try:
            return train_test_split(rows, test_size=size, random_state=seed, stratify=labels)
        except ValueError:
            pass
    return train_test_split(rows, test_size=size, random_state=seed)


def _cases(count: int):
    rng = np.random.default_rng(20261202)
    for case in range(count):
        n = int(rng.integers(2, 400))
        size = int(rng.integers(1, n))
        classes = int(rng.integers(1, 15))
        # skewed class shares, so that some classes have one row or a handful
        shares = rng.dirichlet(np.full(classes, 0.3 if case % 2 else 3.0))
        labels = rng.choice(classes, size=n, p=shares).astype(np.int64)
        rows = np.sort(rng.choice(5 * n, size=n, replace=False))  # rows of a larger table
        yield rows, (labels if case % 5 else None), size, int(rng.integers(0, 2**31))


@pytest.mark.parametrize("batch", range(4))
def test_the_rows_drawn_are_scikit_learns_to_the_order(batch):
    for rows, labels, size, seed in list(_cases(1200))[batch * 300 : (batch + 1) * 300]:
        kept, aside = _cut(rows, labels, size, seed)
        expected_kept, expected_aside = _scikit_learn_cut(rows, labels, size, seed)
        np.testing.assert_array_equal(kept, expected_kept)
        np.testing.assert_array_equal(aside, expected_aside)


def test_ties_between_class_remainders_are_drawn_as_scikit_learn_draws_them():
    # four equal classes of 5 rows, 6 set aside: two classes get an extra row, chosen at random
    labels = np.repeat(np.arange(4), 5)
    rows = np.arange(20)
    for seed in range(50):
        for mine, theirs in zip(
            _cut(rows, labels, 6, seed), _scikit_learn_cut(rows, labels, 6, seed), strict=True
        ):
            np.testing.assert_array_equal(mine, theirs)


def test_a_built_in_sets_default_split_is_unchanged():
    data = BUILTIN.get("digits")()
    parts = split_indices(data, seed=3)
    rows, test = train_test_split(
        np.arange(len(data)), test_size=270, random_state=3, stratify=data.y
    )
    rows, val = train_test_split(rows, test_size=270, random_state=3, stratify=data.y[rows])
    for mine, theirs in zip((parts.train, parts.val, parts.test), (rows, val, test), strict=True):
        np.testing.assert_array_equal(mine, np.sort(theirs))


def test_too_few_rows_to_split_is_refused_with_the_fix():
    with pytest.raises(DataError, match="cannot split 1 samples.*give more data"):
        _cut(np.arange(1), None, 1, 0)
