"""Data files in every supported format, and a one-line error for each kind of bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlpkit.config import build_config
from mlpkit.data.files import load_file
from mlpkit.errors import DataError, DataNotFoundError


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_tables_load_raw_features_and_string_labels(tmp_path, suffix, make_flowers):
    frame = make_flowers()
    path = tmp_path / f"flowers{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)

    data = load_file(path, target="species")

    assert data.task == "classification" and data.target == "species"
    assert data.class_names == ["setosa", "versicolor", "virginica"]
    assert data.y.dtype == np.int64 and data.y[:3].tolist() == [0, 1, 2]
    assert isinstance(data.X, pd.DataFrame) and data.feature_names == ["petal", "sepal"]
    np.testing.assert_allclose(data.X["petal"], frame["petal"])


def test_text_columns_stay_raw_and_the_target_defaults_to_the_last_column(tmp_path, make_houses):
    make_houses().to_csv(tmp_path / "h.csv", index=False)
    data = load_file(tmp_path / "h.csv", features=["size", "city"])
    assert data.target == "price" and data.task == "regression"
    assert data.feature_names == ["size", "city"]
    assert set(data.X["city"]) == {"lyon", "nice", "paris"}


def test_npz_with_named_arrays_flattens_images_and_keeps_their_shape(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = rng.random((6, 4, 5), dtype=np.float32), np.array([3, 1, 3, 1, 1, 3])
    np.savez(tmp_path / "img.npz", images=images, labels=labels)

    data = load_file(tmp_path / "img.npz", target="labels", features=["images"])

    assert data.X.shape == (6, 20) and data.image_shape == (4, 5)
    np.testing.assert_array_equal(data.X[2], images[2].reshape(-1))
    assert data.class_names == ["1", "3"] and data.y.tolist() == [1, 0, 1, 0, 0, 1]


# --- bad input: each is a DataError (a ValueError) naming the problem and the fix -------------


def test_missing_file(tmp_path):
    with pytest.raises(DataNotFoundError, match="no file at .*nope.csv; check the path"):
        load_file(tmp_path / "nope.csv")


def test_unknown_format(tmp_path):
    (tmp_path / "data.xlsx").write_bytes(b"PK")
    with pytest.raises(DataError, match=r"unknown format '.xlsx'; use one of .*\.csv"):
        load_file(tmp_path / "data.xlsx")


def test_missing_target_column_lists_the_columns(houses_csv):
    with pytest.raises(DataError) as info:
        load_file(houses_csv, target="prize")
    assert "no column 'prize'; choose --target from: size, rooms, city, price" in str(info.value)


@pytest.mark.parametrize(("content", "problem"), [("", "is empty"), ("a,b\n", "no data rows")])
def test_empty_file(tmp_path, content, problem):
    (tmp_path / "empty.csv").write_text(content)
    with pytest.raises(DataError, match=problem):
        load_file(tmp_path / "empty.csv")


def test_a_single_class(tmp_path):
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "label": ["cat"] * 3}).to_csv(tmp_path / "c.csv")
    with pytest.raises(
        DataError, match="single class \\('cat'\\); classification needs at least two"
    ):
        load_file(tmp_path / "c.csv", target="label")


def test_non_numeric_values_in_a_numeric_column(tmp_path, make_houses):
    frame = make_houses(10)
    frame["size"] = frame["size"].astype(object)
    frame.loc[3, "size"] = "about 90"
    frame.to_csv(tmp_path / "h.csv", index=False)
    with pytest.raises(DataError) as info:
        load_file(tmp_path / "h.csv", task="regression")
    message = str(info.value)
    assert (
        "column 'size' of h.csv is numeric but has 1 non-numeric value(s) (e.g. 'about 90')"
        in message
    )
    assert "--impute" in message


def test_missing_values_name_the_column_and_count_before_anything_is_written(tmp_path, make_houses):
    from mlpkit.runs import train_run

    frame = make_houses(40)
    frame.loc[[2, 5, 8], "rooms"] = np.nan
    frame.to_csv(tmp_path / "h.csv", index=False)
    settings = {"data": str(tmp_path / "h.csv"), "impute": "none", "out": str(tmp_path / "run")}
    config = build_config(settings)
    with pytest.raises(DataError, match="column 'rooms' of .*h.csv is missing in 3 row\\(s\\)"):
        train_run(config)
    assert not (tmp_path / "run").exists()


def test_infinite_values_in_arrays(tmp_path):
    X = np.ones((5, 2), dtype=np.float32)
    X[1, 0] = np.inf
    np.savez(tmp_path / "d.npz", X=X, y=np.array([0, 1, 0, 1, 0]))
    with pytest.raises(DataError, match="d.npz has infinite values in 1 row\\(s\\); fix or drop"):
        load_file(tmp_path / "d.npz")


def test_x_and_y_of_different_lengths(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((5, 2)), y=np.array([0, 1, 0, 1]))
    with pytest.raises(DataError, match="5 rows of X but 4 targets; give one target per row"):
        load_file(tmp_path / "d.npz")


def test_labels_outside_the_model_outputs():
    from mlpkit import MLP, fit

    X, y = np.zeros((6, 2), dtype=np.float32), np.array([0, 1, 2, 0, 1, 2])
    with pytest.raises(DataError, match=r"labels must be in \[0, 2\) .* found 0..2"):
        fit(MLP(2, [], 2), "cross_entropy", (X, y), epochs=1)


def test_labels_of_new_data_outside_the_model_classes(tmp_path, make_flowers):
    other = make_flowers(9)
    other.loc[4, "species"] = "rose"
    other.to_csv(tmp_path / "other.csv", index=False)
    with pytest.raises(DataError, match="label 'rose' .* not one of the model's classes"):
        load_file(tmp_path / "other.csv", classes=["setosa", "versicolor", "virginica"])


def test_feature_count_that_does_not_match_the_saved_model(tmp_path):
    from mlpkit.runs import predict_run, train_run

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", X=rng.random((40, 3)), y=np.arange(40) % 2)
    config = build_config(
        {"data": str(tmp_path / "d.npz"), "epochs": 1, "hidden": [4], "out": str(tmp_path / "r")}
    )
    train_run(config)
    np.save(tmp_path / "new.npy", rng.random((2, 5)))
    with pytest.raises(DataError, match="5 features per row but the model was trained on 3"):
        predict_run(tmp_path / "r", tmp_path / "new.npy")


# --- large tables: pyarrow reads them, with pandas' values; the preprocessing is unchanged ---


MESSY_CSV = (
    ",size,city,ok,day,empty,rooms,code,words\n"
    '0,1.5,lyon,True,2024-01-01,,3,"7",NA\n'
    "1,,None,False,2024-01-02,,4,8,n/a\n"
    "2,-2e3,,true,2024-01-03,,,9,null\n"
    "3,inf,paris,FALSE,2024-01-04,,5,10,x\n"
)


def test_csv_files_read_by_pyarrow_as_pandas_reads_them(tmp_path):
    from mlpkit.data.files import read_table

    path = tmp_path / "messy.csv"
    path.write_text(MESSY_CSV)
    oracle = pd.read_csv(path, low_memory=False)  # pandas' C reader, as before pyarrow

    frame = read_table(path)

    assert frame.columns.tolist() == oracle.columns.tolist()  # "Unnamed: 0" for no name
    for column in oracle.columns:
        assert frame[column].dtype == oracle[column].dtype or (
            frame[column].isna().equals(oracle[column].isna())
            and oracle[column].dtype == object  # pyarrow's object bools: True/False/None
        ), column
        assert frame[column].isna().tolist() == oracle[column].isna().tolist(), column
        present = oracle[column].notna()
        assert frame[column][present].tolist() == oracle[column][present].tolist(), column


def test_the_texts_read_as_missing_are_the_ones_pandas_reads_as_missing(tmp_path):
    from mlpkit.data.arrow_csv import NA_TEXTS
    from mlpkit.data.files import read_table

    texts = [*NA_TEXTS, "none", "NONE", "Nan", "-", "?", "na", "x"]
    path = tmp_path / "gaps.csv"
    pd.DataFrame({"t": texts, "n": range(len(texts))}).to_csv(path, index=False)
    oracle = pd.read_csv(path, keep_default_na=True)
    assert read_table(path)["t"].isna().tolist() == oracle["t"].isna().tolist()


def test_a_short_row_is_left_to_pandas_and_a_long_one_refused_with_its_message(tmp_path):
    from mlpkit.data.files import read_table

    (tmp_path / "short.csv").write_text("a,b\n1,2\n3\n")
    assert read_table(tmp_path / "short.csv")["b"].isna().tolist() == [False, True]
    (tmp_path / "long.csv").write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(DataError, match="Expected 2 fields in line 3, saw 3; fix the file"):
        read_table(tmp_path / "long.csv")


def test_a_table_part_is_encoded_as_the_same_rows_copied_out(tmp_path):
    from mlpkit.data.encode import tidy_table
    from mlpkit.data.preprocess import Preprocessor

    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame(
        {
            "x": np.where(rng.random(n) < 0.1, np.nan, rng.standard_t(2, n)),
            "k": rng.integers(0, 4, n),
            "c": np.where(rng.random(n) < 0.05, None, rng.choice(list("abcdefgh"), n)),
            "d": rng.choice([f"v{i}" for i in range(300)], n),  # capped: (other)
        }
    )
    table = tidy_table(frame, "t.csv", categorical=["k"])
    rows = np.sort(rng.choice(n, 2000, replace=False))
    others = np.setdiff1d(np.arange(n), rows)
    for scaling in ("robust", "quantile", "standard"):
        fitted = Preprocessor(scaling=scaling, max_levels=16).fit(table, rows)
        oracle = Preprocessor(scaling=scaling, max_levels=16).fit(table.iloc[rows].copy())
        assert fitted.to_dict() == oracle.to_dict()
        encoded = fitted.transform(table, rows=others)
        np.testing.assert_array_equal(encoded, oracle.transform(table.iloc[others].copy()))
        assert encoded.shape == (len(others), len(fitted.output_names_))
        assert fitted.unknown_counts(table, others) == oracle.unknown_counts(
            table.iloc[others].copy()
        )
