"""Prediction: top-k classes with names and probabilities; values for regression."""

import numpy as np
import pytest
import torch

import mlpkit
from mlpkit.errors import ConfigError


def test_top_k_classes_are_sorted_with_names_and_softmax_probabilities():
    model = mlpkit.MLP(3, [], 4)
    X = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    result = mlpkit.predict(model, X, top_k=2, class_names=["a", "b", "c", "d"])
    probs = torch.softmax(model(torch.tensor(X)), 1).detach().numpy()
    expected = np.argsort(-probs, axis=1)[:, :2]
    np.testing.assert_array_equal(result.classes, expected)
    np.testing.assert_allclose(result.probabilities, np.take_along_axis(probs, expected, 1), 1e-5)
    assert result.labels[0, 0] == "abcd"[expected[0, 0]]
    frame = result.to_frame()
    assert list(frame.columns) == [
        "class_1",
        "class_index_1",
        "probability_1",
        "class_2",
        "class_index_2",
        "probability_2",
    ]


def test_regression_returns_values():
    model = mlpkit.MLP(2, [], 1)
    X = np.ones((3, 2), np.float32)
    result = mlpkit.predict(model, X, task="regression")
    np.testing.assert_allclose(result.values, model(torch.tensor(X)).detach().numpy(), rtol=1e-6)
    assert list(result.to_frame().columns) == ["prediction"]


def test_predict_uses_eval_mode():
    model = mlpkit.MLP(4, [64], 3, dropout=0.5)
    X = np.ones((2, 4), np.float32)
    first = mlpkit.predict(model, X, top_k=3).probabilities
    second = mlpkit.predict(model, X, top_k=3).probabilities
    np.testing.assert_array_equal(first, second)  # no dropout noise
    assert model.training


def test_class_names_must_match_the_outputs():
    with pytest.raises(ConfigError, match="one name per class"):
        mlpkit.predict(mlpkit.MLP(2, [], 3), np.ones((1, 2), np.float32), class_names=["a"])
