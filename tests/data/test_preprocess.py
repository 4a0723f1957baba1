"""The preprocessor: scikit-learn's pipeline is the oracle; JSON holds everything it learned."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlpkit.data.encode import CHUNK_VALUES, tidy_table
from mlpkit.data.preprocess import Preprocessor, Standardizer
from mlpkit.errors import DataError


def messy_table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Numeric and text columns, each with missing values."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "size": rng.normal(100, 20, n),
            "color": rng.choice(["red", "green", "blue"], n).astype(object),
            "age": rng.integers(0, 30, n).astype(float),
            "shape": rng.choice(["round", "square"], n).astype(object),
        }
    )
    for column, rows in (("size", [1, 7]), ("color", [2, 3, 9]), ("age", [4]), ("shape", [5])):
        frame.loc[rows, column] = None
    return frame


def sklearn_oracle(strategy: str):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy=strategy), StandardScaler()),
                ["size", "age"],
            ),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="(missing)"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                ["color", "shape"],
            ),
        ]
    )


@pytest.mark.parametrize("strategy", ["mean", "median", "most_frequent"])
def test_matches_scikit_learn_fitted_on_the_training_rows(strategy):
    frame = messy_table()
    train, test = np.arange(40), np.arange(40, 60)
    ours = Preprocessor(impute=strategy, scaling="standard").fit(frame, train)
    oracle = sklearn_oracle(strategy).fit(frame.iloc[train])

    got = ours.transform(frame.iloc[test])
    expected = oracle.transform(frame.iloc[test])
    # scikit-learn puts numeric columns first and sorts "(missing)" first; ours keep the
    # table's column order. The missing-value indicators are checked in test_defaults.py.
    names = ours.output_names_
    assert names == ["size", "size=(missing)", "color=blue", "color=green", "color=red",
                     "color=(missing)", "age", "age=(missing)", "shape=round", "shape=square",
                     "shape=(missing)"]  # fmt: skip
    order = [names.index(n) for n in ["size", "age", "color=(missing)", "color=blue",
                                      "color=green", "color=red", "shape=(missing)",
                                      "shape=round", "shape=square"]]  # fmt: skip
    assert got.dtype == np.float32
    np.testing.assert_allclose(got[:, order], expected, rtol=1e-5, atol=1e-5)


def test_json_round_trip_transforms_new_data_identically():
    frame = messy_table()
    fitted = Preprocessor(impute="median", unknown_category="ignore").fit(frame, np.arange(40))
    loaded = Preprocessor.from_dict(json.loads(json.dumps(fitted.to_dict())))
    new = messy_table(25, seed=1)
    new.loc[0, "color"] = "purple"  # unseen in training
    np.testing.assert_array_equal(loaded.transform(new), fitted.transform(new))
    assert loaded.output_names_ == fitted.output_names_


def test_statistics_come_from_the_training_rows_only():
    frame = pd.DataFrame({"x": [0.0, 2.0, 100.0, 100.0]})
    fitted = Preprocessor(scaling="standard").fit(frame, np.array([0, 1]))
    assert fitted.scaler_.mean.tolist() == [1.0] and fitted.scaler_.scale.tolist() == [1.0]
    assert fitted.transform(frame)[:, 0].tolist() == [-1.0, 1.0, 99.0, 99.0]


def test_unseen_category_is_an_error_naming_it_or_all_zeros_when_ignored():
    train = pd.DataFrame({"color": ["red", "blue", "red"], "x": [1.0, 2.0, 3.0]})
    new = pd.DataFrame({"color": ["purple", "blue"], "x": [1.0, 1.0]})
    with pytest.raises(DataError) as info:
        Preprocessor(unknown_category="error").fit(train).transform(new, "new.csv")
    message = str(info.value)
    assert "'color'" in message and "'purple'" in message and "new.csv" in message
    assert "--unknown-category ignore" in message
    encoded = Preprocessor(unknown_category="ignore").fit(train).transform(new)
    assert encoded[:, :2].tolist() == [[0.0, 0.0], [1.0, 0.0]]  # color=blue, color=red


def test_missing_values_without_imputation_name_the_column_and_row_count():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [None, 2.0, None]})
    with pytest.raises(DataError) as info:
        Preprocessor(impute="none").fit(frame, source="data.csv")
    message = str(info.value)
    assert "'b'" in message and "2 row(s)" in message and "--impute" in message
    with pytest.raises(DataError, match="'x1'.* 1 row"):
        Preprocessor(impute="none").fit(np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(DataError, match="'x1'.* 1 row"):
        Preprocessor(impute=None).fit(np.array([[1.0, np.nan], [2.0, 3.0]]))  # older form


def test_array_with_the_wrong_feature_count_is_refused_at_transform():
    fitted = Preprocessor().fit(np.zeros((4, 3), dtype=np.float32))
    with pytest.raises(DataError, match="2 features per row but the model was trained on 3"):
        fitted.transform(np.zeros((2, 2)), "new.npy")


def test_table_model_names_the_missing_columns():
    fitted = Preprocessor().fit(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 5.0]}))
    with pytest.raises(DataError, match=r"lacks the feature column\(s\) \['b'\]"):
        fitted.transform(pd.DataFrame({"a": [1.0]}), "new.csv")


def test_chunked_standardizer_matches_numpy_on_a_memory_map(tmp_path):
    rng = np.random.default_rng(0)
    # Large means and more rows than a chunk: the pairwise update must stay exact.
    X = (rng.normal(0, 1, (CHUNK_VALUES // 3 * 2 + 123, 3)) + [1e6, -5.0, 0.0]).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    rows = np.arange(0, len(X), 3)
    fitted = Standardizer.fit(mapped, rows)
    np.testing.assert_allclose(fitted.mean, X[rows].astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(fitted.scale, X[rows].astype(np.float64).std(axis=0), rtol=1e-9)


def test_standardisation_can_be_turned_off_keeping_image_range():
    X = np.random.default_rng(0).random((10, 4), dtype=np.float32)
    out = Preprocessor(standardize=False).fit(X).transform(X)
    np.testing.assert_array_equal(out, X)


def test_table_checks_text_in_numeric_columns_and_keeps_categories():
    frame = pd.DataFrame(
        {
            "price": ["10", "12.5", "?", "11"],  # numbers with a typo
            "count": ["1", "2", "3", "4"],  # numbers stored as text
            "zone": [3, 1, 3, 2],  # numeric codes, declared categorical
        }
    )
    with pytest.raises(DataError) as info:
        tidy_table(frame, "shop.csv")
    message = str(info.value)
    assert "'price'" in message and "1 non-numeric" in message and "'?'" in message
    tidy = tidy_table(frame[["count", "zone"]], "shop.csv", categorical=["zone"])
    assert tidy["count"].tolist() == [1, 2, 3, 4]
    fitted = Preprocessor(standardize=False).fit(tidy)
    assert fitted.output_names_ == ["count", "zone=1", "zone=2", "zone=3"]
    # 3.0 read from another file is the same category as 3.
    new = pd.DataFrame({"count": [1.0], "zone": [3.0]})
    assert fitted.transform(new).tolist() == [[1.0, 0.0, 0.0, 1.0]]


def test_infinite_values_are_an_error_naming_the_column():
    with pytest.raises(DataError, match="'b' of t.csv has 1 infinite"):
        tidy_table(pd.DataFrame({"a": [1.0, 2.0], "b": [np.inf, 1.0]}), "t.csv")
