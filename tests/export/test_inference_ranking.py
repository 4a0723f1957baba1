"""The ranking every engine's probabilities go through (``inference.prediction.ranked``),
against torch's own ``topk`` as the oracle: the same classes and probabilities, best first,
from a tensor or an array, the lower class first where probabilities are equal."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlpkit.errors import ConfigError
from mlpkit.inference.prediction import ranked


@pytest.mark.parametrize("top_k", [1, 3, 10])
def test_ranked_classes_and_probabilities_are_torchs_topk(top_k):
    generator = torch.Generator().manual_seed(0)
    probabilities = torch.softmax(torch.randn(500, 7, generator=generator), dim=1)
    best = probabilities.topk(min(top_k, 7), dim=1)
    for given in (probabilities, probabilities.numpy()):
        found = ranked(given, top_k, list("abcdefg"))
        np.testing.assert_array_equal(found.classes, best.indices.numpy())
        np.testing.assert_array_equal(found.probabilities, best.values.numpy())
        assert found.classes.dtype == np.int64 and found.probabilities.dtype == np.float32
        assert found.labels[0].tolist() == ["abcdefg"[i] for i in best.indices[0].tolist()]


def test_equal_probabilities_rank_the_lower_class_first():
    tied = np.array([[0.25, 0.5, 0.25, 0.0], [0.4, 0.2, 0.0, 0.4]], dtype=np.float32)
    assert ranked(tied, 1).classes.tolist() == [[1], [0]]
    assert ranked(tied, 3).classes.tolist() == [[1, 0, 2], [0, 3, 1]]
    expected = np.array([[0.5, 0.25, 0.25], [0.4, 0.4, 0.2]], dtype=np.float32)
    np.testing.assert_array_equal(ranked(tied, 3).probabilities, expected)


def test_ranked_refuses_a_bad_k_or_the_wrong_number_of_names():
    probabilities = np.full((2, 3), 1 / 3, dtype=np.float32)
    with pytest.raises(ConfigError, match="top_k must be at least 1"):
        ranked(probabilities, 0)
    with pytest.raises(ConfigError, match="give one name per class"):
        ranked(probabilities, 1, ["a", "b"])
