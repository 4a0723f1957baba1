"""The exported graph's preprocessing against its oracle, ``Preprocessor.transform``: every
scaling, with and without missing-value indicators, a capped categorical column, unseen
categories and missing values, on raw inputs as ``graph_inputs`` encodes them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from mlpkit.data.preprocess import Preprocessor
from mlpkit.export.inputs import UNKNOWN_CODE, graph_inputs
from mlpkit.export.serving import Serving, smooth_clip


class Inputs(nn.Module):
    """A "model" that returns its inputs, so that a regression ``Serving`` returns the
    preprocessed matrix itself."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.out_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def table(rows: int, seed: int) -> pd.DataFrame:
    """Numbers with ties and gaps around a town column of 9 categories, 2 of them frequent."""
    rng = np.random.default_rng(seed)
    towns = rng.choice([f"t{i}" for i in range(9)], rows, p=[0.3, 0.2, *[0.5 / 7] * 7])
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=rows) * 100,
            "town": towns,
            "b": np.round(rng.exponential(size=rows), 1),  # decimal ties, inexact in float32
            "c": rng.integers(0, 5, rows).astype(float),  # whole-number ties
        }
    )
    frame.loc[rng.choice(rows, rows // 10, replace=False), "a"] = np.nan
    frame.loc[rng.choice(rows, rows // 20, replace=False), "town"] = None
    return frame


def preprocessed(serving: Serving, inputs: dict[str, np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        return serving(**{k: torch.from_numpy(v.copy()) for k, v in inputs.items()}).numpy()


@pytest.mark.parametrize("scaling", ["robust", "quantile", "standard"])
@pytest.mark.parametrize("indicators", [True, False])
def test_the_graph_computes_what_the_preprocessor_computes(scaling, indicators):
    preprocessor = Preprocessor(scaling=scaling, max_levels=4, indicators=indicators)
    preprocessor.fit(table(400, seed=0))
    assert "town=(other)" in preprocessor.output_names_
    assert ("a=(missing)" in preprocessor.output_names_) == indicators
    new = table(200, seed=1)
    new.loc[:4, "town"] = "never seen"
    new.loc[5:8, "b"] = [1e6, -1e6, np.nan, 0.05]  # far outliers, a gap the training part lacked
    new.loc[9:10, "c"] = [-3.0, 9.0]  # beyond the training range
    serving = Serving(Inputs(preprocessor.n_outputs_), preprocessor, "regression").eval()
    expected = preprocessor.transform(new)
    np.testing.assert_allclose(
        preprocessed(serving, graph_inputs(new, preprocessor)), expected, rtol=1e-6, atol=1e-6
    )


def test_a_code_beyond_a_capped_columns_table_is_its_other_level():
    preprocessor = Preprocessor(max_levels=3).fit(table(300, seed=0)[["town"]])
    levels = preprocessor.categories_["town"]
    assert levels[-2:] == ["(other)", "(missing)"]
    serving = Serving(Inputs(len(levels)), preprocessor, "regression").eval()
    rows = pd.DataFrame({"town": ["t0", "never seen", None, "t8"]})
    inputs = graph_inputs(rows, preprocessor)
    other = levels.index("(other)")
    assert inputs["categories"][:, 0].tolist() == [levels.index("t0"), other, -1, other]
    # A user's own code for an unseen category means the same as (other).
    by_hand = {"categories": np.array([[0], [UNKNOWN_CODE], [-1], [len(levels)]])}
    expected = preprocessor.transform(rows)
    np.testing.assert_array_equal(preprocessed(serving, by_hand), expected)
    np.testing.assert_array_equal(preprocessed(serving, inputs), expected)


def test_an_array_column_with_gaps_in_training_is_followed_by_its_indicator():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    X[rng.random(200) < 0.1, 0] = np.nan
    X[rng.random(200) < 0.1, 2] = np.nan
    preprocessor = Preprocessor().fit(X)
    assert preprocessor.output_names_ == ["x0", "x0=(missing)", "x1", "x2", "x2=(missing)"]
    new = rng.normal(size=(50, 3))
    new[rng.random(new.shape) < 0.2] = np.nan  # x1 too: filled, with no indicator
    serving = Serving(Inputs(5), preprocessor, "regression").eval()
    np.testing.assert_allclose(
        preprocessed(serving, graph_inputs(new, preprocessor)),
        preprocessor.transform(new),
        atol=1e-6,
    )


def test_the_smooth_clip_is_the_preprocessors_without_overflow():
    from mlpkit.data.scaling import smooth_clip as eager

    x = np.array([0.0, -0.5, 1.0, 3.0, -30.0, 1e20, -3e38], dtype=np.float32)
    got = smooth_clip(torch.from_numpy(x.copy()), 3.0).numpy()
    np.testing.assert_allclose(got, eager(x.copy()), rtol=1e-6)
    assert np.abs(got).max() <= 3.0
