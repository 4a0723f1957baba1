"""Train, evaluate and predict agree on the data: one preprocessing, saved as JSON, used by all.

The oracle for the numbers is a hand computation from ``model.json`` and the weights, with
scikit-learn's metrics, so that a mistake shared by the three commands cannot hide.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from mlpkit.config import build_config
from mlpkit.data.files import load_file
from mlpkit.data.prepare import prepare_data
from mlpkit.data.split import split_indices
from mlpkit.errors import DataError
from mlpkit.io.weights import load_model
from mlpkit.runs import evaluate_run, predict_run, train_run

FAST = {"epochs": 15, "hidden": [16], "lr": 0.01, "batch_size": 16}


def by_hand(run_dir, frame: pd.DataFrame) -> np.ndarray:
    """The model's outputs in the target's units, computed from model.json's numbers alone
    (standard or robust scaling: centre, scale, and the smooth clip x / sqrt(1 + (x / 3)^2))."""
    model, meta = load_model(run_dir)
    pre = meta["preprocessing"]
    assert pre.get("numeric_scaling", "standard") in ("standard", "robust")
    columns = []
    numeric = [c for c in pre["columns"] if c not in pre["categories"]]
    for column in pre["columns"]:
        values = frame[column]
        fill = None if pre["fill"] is None else pre["fill"][pre["columns"].index(column)]
        if fill is not None:
            values = values.fillna(fill)
        if column in pre["categories"]:
            columns += [(values == c).to_numpy(float) for c in pre["categories"][column]]
        else:
            j = numeric.index(column)
            mean, scale = pre["standardize"]["mean"][j], pre["standardize"]["scale"][j]
            x = (values.to_numpy(float) - mean) / scale
            if pre.get("numeric_scaling") == "robust":
                x = x / np.sqrt(1 + (x / 3) ** 2)
            columns.append(x)
            if column in pre.get("missing_indicators", []):
                columns.append(frame[column].isna().to_numpy(float))
    X = torch.tensor(np.column_stack(columns), dtype=torch.float32)
    with torch.no_grad():
        out = model(X).numpy()
    if pre.get("target"):
        out = out * np.array(pre["target"]["scale"]) + np.array(pre["target"]["mean"])
    return out


def test_scaled_target_metrics_are_in_original_units(tmp_path, make_houses):
    frame = make_houses(200)
    frame.loc[[3, 50, 120], "rooms"] = np.nan
    frame.to_csv(tmp_path / "h.csv", index=False)
    config = build_config(
        {
            "data": str(tmp_path / "h.csv"),
            "target": "price",
            "impute": "median",
            "scale_target": True,
            "out": str(tmp_path / "run"),
            **FAST,
        }
    )
    result = train_run(config)
    metrics = evaluate_run(tmp_path / "run")

    parts = split_indices(load_file(tmp_path / "h.csv", target="price"), seed=0)
    test = frame.iloc[parts.test]
    predicted = by_hand(tmp_path / "run", test)[:, 0]
    rmse = mean_squared_error(test["price"], predicted) ** 0.5
    assert rmse > 1000  # in dollars, not in standard deviations
    assert metrics["rmse"] == pytest.approx(rmse, rel=1e-4)
    assert metrics["mae"] == pytest.approx(mean_absolute_error(test["price"], predicted), rel=1e-4)
    assert metrics["r2"] == pytest.approx(r2_score(test["price"], predicted), abs=1e-4)
    assert result.test_metrics["rmse"] == pytest.approx(rmse, rel=1e-4)
    # The history's validation metrics too: the saved weights are the last epoch's, or the
    # best epoch's where the run restores them (lowest val_loss, so lowest val_rmse).
    val = frame.iloc[parts.val]
    val_rmse = mean_squared_error(val["price"], by_hand(tmp_path / "run", val)[:, 0]) ** 0.5
    history = result.history
    kept = {history["val_rmse"].iloc[-1], history["val_rmse"][history["val_loss"].idxmin()]}
    assert any(v == pytest.approx(val_rmse, rel=1e-4) for v in kept)
    # And predict: the same numbers, in dollars.
    test.drop(columns="price").to_csv(tmp_path / "new.csv", index=False)
    predictions = predict_run(tmp_path / "run", tmp_path / "new.csv")["prediction"]
    np.testing.assert_allclose(predictions, predicted, rtol=1e-5)


def test_categories_are_saved_in_model_json_and_unseen_ones_refused(tmp_path, make_houses):
    make_houses(90).to_csv(tmp_path / "h.csv", index=False)
    out = tmp_path / "run"
    settings = {"data": str(tmp_path / "h.csv"), "unknown_category": "error", **FAST}
    train_run(build_config({**settings, "out": str(out)}))

    meta = json.loads((out / "model.json").read_text())
    assert meta["preprocessing"]["categories"] == {"city": ["lyon", "nice", "paris"]}
    assert meta["input_names"] == ["size", "rooms", "city=lyon", "city=nice", "city=paris"]
    assert meta["architecture"]["in_features"] == 5 and meta["target"] == "price"

    new = pd.DataFrame({"size": [80.0], "rooms": [2], "city": ["marseille"]})
    new.to_csv(tmp_path / "new.csv", index=False)
    with pytest.raises(DataError, match="'marseille' .* not seen in training"):
        predict_run(out, tmp_path / "new.csv")


def test_unknown_category_ignored_gives_the_all_zero_code(tmp_path, make_houses):
    make_houses(90).to_csv(tmp_path / "h.csv", index=False)
    out = tmp_path / "run"
    settings = {"data": str(tmp_path / "h.csv"), "unknown_category": "ignore", **FAST}
    train_run(build_config({**settings, "out": str(out)}))
    new = pd.DataFrame({"size": [80.0], "rooms": [2], "city": ["marseille"]})
    new.to_csv(tmp_path / "new.csv", index=False)
    predicted = predict_run(out, tmp_path / "new.csv")["prediction"].to_numpy()
    np.testing.assert_allclose(predicted, by_hand(out, new)[:, 0], rtol=1e-5)


def test_separate_validation_and_test_files(tmp_path, make_flowers):
    frame = make_flowers(120)
    frame.iloc[:60].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[60:90].to_csv(tmp_path / "val.csv", index=False)
    test = frame.iloc[90:]
    test[test["species"] == "virginica"].to_csv(tmp_path / "test.csv", index=False)
    config = build_config(
        {
            "data": str(tmp_path / "train.csv"),
            "val": str(tmp_path / "val.csv"),
            "test": str(tmp_path / "test.csv"),
        }
    )
    prepared = prepare_data(config)

    assert len(prepared.train[1]) == 60 and len(prepared.val[1]) == 30  # nothing cut off
    assert set(prepared.test[1]) == {2}  # virginica keeps its index from the training file
    # Robust scaling (the default) centres the training file's medians.
    train_median = frame.iloc[:60][["petal", "sepal"]].median().to_numpy()
    np.testing.assert_allclose(prepared.preprocessor.scaler_.mean, train_median)


def test_fractions_are_seeded_and_stratified(tmp_path, make_flowers):
    make_flowers(300).to_csv(tmp_path / "f.csv", index=False)
    config = build_config(
        {"data": str(tmp_path / "f.csv"), "val_fraction": 0.2, "test_fraction": 0.1}
    )
    first, again = prepare_data(config), prepare_data(config)
    sizes = [len(first.train[1]), len(first.val[1]), len(first.test[1])]
    assert sizes == [210, 60, 30]
    assert np.bincount(first.val[1]).tolist() == [20, 20, 20]
    np.testing.assert_array_equal(first.train[0], again.train[0])


def test_scale_target_on_by_default_leaves_a_classification_target_alone(tmp_path, make_flowers):
    make_flowers().to_csv(tmp_path / "f.csv", index=False)
    config = build_config({"data": str(tmp_path / "f.csv"), "scale_target": True})
    assert config.data.scale_target and build_config({}).data.scale_target
    prepared = prepare_data(config)
    assert prepared.target_scaler is None
    assert prepared.train[1].dtype == np.int64  # class indices, not standardised


def test_evaluate_on_another_file_encodes_its_labels_like_the_model(tmp_path, make_flowers):
    frame = make_flowers(120)
    frame.iloc[:90].to_csv(tmp_path / "f.csv", index=False)
    out = tmp_path / "run"
    train_run(build_config({"data": str(tmp_path / "f.csv"), "out": str(out), **FAST}))
    other = frame.iloc[90:]
    other = other[other["species"] != "setosa"]  # a subset of the classes
    other.to_csv(tmp_path / "other.csv", index=False)

    metrics = evaluate_run(out, str(tmp_path / "other.csv"))

    predicted = by_hand(out, other).argmax(axis=1)
    truth = other["species"].map({"setosa": 0, "versicolor": 1, "virginica": 2}).to_numpy()
    assert metrics["accuracy"] == pytest.approx(float((predicted == truth).mean()))


def test_predict_reads_the_model_categorical_columns_as_categories(tmp_path, make_houses):
    make_houses(90).to_csv(tmp_path / "h.csv", index=False)
    out = tmp_path / "run"
    settings = {"categorical": ["rooms"], "unknown_category": "ignore", **FAST}
    train_run(build_config({"data": str(tmp_path / "h.csv"), "out": str(out), **settings}))
    assert json.loads((out / "model.json").read_text())["preprocessing"]["categories"] == {
        "rooms": ["1", "2", "3", "4", "5"],
        "city": ["lyon", "nice", "paris"],
    }
    # Mostly numbers and one word: still the categorical column, not a numeric one with a typo.
    new = pd.DataFrame({"size": [80.0] * 3, "rooms": ["2", "3", "many"], "city": ["nice"] * 3})
    new.to_csv(tmp_path / "new.csv", index=False)
    predicted = predict_run(out, tmp_path / "new.csv")["prediction"].to_numpy()
    np.testing.assert_allclose(predicted, by_hand(out, new.astype({"rooms": str}))[:, 0], rtol=1e-5)
