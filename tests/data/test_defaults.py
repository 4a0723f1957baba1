"""The preprocessing defaults (issue 10), each step against scikit-learn or a hand-worked example:
median imputation with missing-value indicators, a category of their own for missing categories,
robust scaling with smooth clipping, the quantile transform, capped categories and unseen ones;
then the whole path, ``mlpkit train`` then ``mlpkit predict`` on new rows with gaps and unseen
categories."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from mlpkit.config import build_config
from mlpkit.data.levels import OTHER_LEVEL, fit_levels
from mlpkit.data.prepare import prepare_data
from mlpkit.data.preprocess import Preprocessor
from mlpkit.data.scaling import robust_standardizer, smooth_clip
from mlpkit.data.summary import preprocessing_summary
from mlpkit.errors import DataError


def gappy(n: int = 80, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(5, 2, n),
            "b": rng.lognormal(0, 1.5, n),  # heavy-tailed
            "c": rng.uniform(0, 1, n),  # no gaps: no indicator
        }
    )
    frame.loc[[1, 4, 9, 30], "a"] = np.nan
    frame.loc[[2, 50], "b"] = np.nan
    return frame


def test_the_defaults_fill_scale_robustly_and_standardise_the_target():
    data = build_config({}).data
    assert data.impute == "median" and data.unknown_category == "ignore"
    assert data.numeric_scaling == "robust" and data.scale_target and data.scale_features
    p = Preprocessor()
    assert (p.impute, p.unknown_category, p.scaling) == ("median", "ignore", "robust")


@pytest.mark.parametrize("strategy", ["median", "mean", "most_frequent"])
def test_imputation_with_indicators_matches_simple_imputer(strategy):
    from sklearn.impute import SimpleImputer

    frame = gappy()
    train, test = np.arange(60), np.arange(60, 80)
    test_frame = frame.iloc[test].copy()
    test_frame.iloc[0, 2] = np.nan  # a gap where training had none: filled, no indicator
    ours = Preprocessor(strategy, standardize=False).fit(frame, train)
    oracle = SimpleImputer(strategy=strategy, add_indicator=True).fit(frame.iloc[train])

    assert ours.output_names_ == ["a", "a=(missing)", "b", "b=(missing)", "c"]
    expected = oracle.transform(test_frame)  # a, b, c, then the indicators of a and b
    got = ours.transform(test_frame)
    np.testing.assert_allclose(got[:, [0, 2, 4, 1, 3]], expected, rtol=1e-6)
    assert ours.missing_ == {"a": 4, "b": 2}  # in the training rows
    # An array the same way.
    array = Preprocessor(strategy, standardize=False).fit(frame.to_numpy(), train)
    np.testing.assert_allclose(array.transform(test_frame.to_numpy()), got, rtol=1e-6)
    assert array.output_names_ == ["x0", "x0=(missing)", "x1", "x1=(missing)", "x2"]


def test_missing_categories_are_a_category_of_their_own():
    train = pd.DataFrame({"color": ["red", None, "blue", "red"], "shape": ["o", "x", "o", "x"]})
    fitted = Preprocessor().fit(train)
    assert fitted.categories_ == {"color": ["blue", "red", "(missing)"], "shape": ["o", "x"]}
    new = pd.DataFrame({"color": [None, "red"], "shape": [None, "o"]})
    # shape had no gaps in training: its missing value is all zeros.
    assert fitted.transform(new).tolist() == [[0, 0, 1, 0, 0], [0, 1, 0, 1, 0]]


def test_no_imputation_refuses_missing_values():
    with pytest.raises(DataError, match="'a' of t.csv is missing in 4 row"):
        Preprocessor("none").fit(gappy(), source="t.csv")
    fitted = Preprocessor("none").fit(gappy().dropna())
    with pytest.raises(DataError, match="missing"):
        fitted.transform(gappy())


def test_robust_scaling_by_hand():
    # median 3, quartiles 2 and 4 (IQR 2); a constant column falls back to scale 1, and a
    # column whose IQR is 0 but not its spread to its standard deviation.
    X = np.array([[1, 7, 0], [2, 7, 0], [3, 7, 0], [4, 7, 0], [100, 7, 10]], dtype=float)
    s = robust_standardizer(X)
    assert s.mean.tolist() == [3.0, 7.0, 0.0]
    assert s.scale.tolist() == [2.0, 1.0, pytest.approx(4.0)]  # std of 0,0,0,0,10 is 4
    out = Preprocessor(impute="none").fit(X).transform(X)
    z = (100 - 3) / 2  # 48.5, clipped smoothly below 3
    assert out[:, 0].tolist() == pytest.approx(
        [-0.9487, -0.4932, 0.0, 0.4932, z / np.hypot(1, z / 3)], abs=1e-4
    )
    assert (np.abs(out) < 3).all()


def test_smooth_clip_is_near_identity_small_and_bounded_large():
    x = np.array([-1e30, -3.0, -0.1, 0.0, 0.1, 3.0, 1e30], dtype=np.float32)
    clipped = smooth_clip(x.copy())
    assert clipped.tolist() == pytest.approx(
        [-3, -3 / 2**0.5, -0.09994, 0, 0.09994, 3 / 2**0.5, 3], abs=1e-4
    )
    assert np.isfinite(clipped).all()


def test_quantile_scaling_matches_quantile_transformer():
    from sklearn.preprocessing import QuantileTransformer

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.lognormal(0, 2, 500), rng.integers(0, 3, 500), rng.normal(0, 1, 500)])
    new = np.column_stack([rng.lognormal(0, 2, 50), rng.integers(-1, 5, 50), rng.normal(0, 3, 50)])
    ours = Preprocessor(impute="none", scaling="quantile").fit(X)
    oracle = QuantileTransformer(n_quantiles=500, output_distribution="normal", subsample=None)
    oracle.fit(X)
    np.testing.assert_allclose(ours.transform(new), oracle.transform(new), atol=1e-5)
    table = pd.DataFrame(X, columns=["p", "q", "r"])
    fitted = Preprocessor(impute="none", scaling="quantile").fit(table)
    loaded = Preprocessor.from_dict(json.loads(json.dumps(fitted.to_dict())))
    np.testing.assert_allclose(loaded.transform(table), oracle.transform(X), atol=1e-5)


def test_heavy_tails_stay_within_a_few_units():
    rng = np.random.default_rng(0)
    X = rng.lognormal(0, 3, (1000, 1))  # values up to e^10
    X[0] = 1e12
    for scaling, bound in (("robust", 3.0), ("quantile", 5.2)):
        out = Preprocessor(scaling=scaling).fit(X[:800]).transform(X)
        assert np.abs(out).max() <= bound + 1e-3, scaling
        assert out[1:].std() > 0.5, scaling  # the other values keep their spread
    # Standard scaling lets the one outlier squeeze every other value to nearly one number.
    standard = Preprocessor(scaling="standard").fit(X[:800]).transform(X)
    assert standard[1:].std() < 0.01


def test_a_high_cardinality_column_keeps_its_most_frequent_levels_and_an_other():
    rng = np.random.default_rng(0)
    ids = [f"z{i:03d}" for i in rng.zipf(1.5, 2000) % 700]
    frame = pd.DataFrame({"zip": ids, "x": rng.normal(size=2000)})
    fitted = Preprocessor(max_levels=10).fit(frame)
    levels = fitted.categories_["zip"]
    counts = frame["zip"].value_counts()
    assert levels[-1] == OTHER_LEVEL and len(levels) == 10
    assert set(levels[:-1]) == set(counts.index[:9])
    assert fitted.n_outputs_ == 11
    out = fitted.transform(
        pd.DataFrame({"zip": [counts.index[0], counts.index[-1], "new"], "x": 0.0})
    )
    other = levels.index(OTHER_LEVEL)  # zip's indicators come first, then x
    assert out[:, other].tolist() == [0.0, 1.0, 1.0]  # rare and unseen codes share (other)
    assert (out[:, :10].sum(axis=1) == 1).all()
    # The default cap is 256 levels: 255 of 700 and (other).
    many = pd.DataFrame({"zip": [f"z{i:03d}" for i in rng.permutation(np.arange(3000) % 700)]})
    assert len(Preprocessor().fit(many).categories_["zip"]) == 256
    assert fit_levels(pd.Series(["b", "a", "b", None]), missing=True) == ["a", "b", "(missing)"]


def test_unseen_categories_are_all_zero_by_default_counted_and_refused_on_request():
    train = pd.DataFrame({"color": ["red", "blue", "red"], "x": [1.0, 2.0, 3.0]})
    new = pd.DataFrame({"color": ["purple", "blue", "teal"], "x": [1.0, 1.0, 1.0]})
    fitted = Preprocessor().fit(train)
    assert fitted.transform(new)[:, :2].tolist() == [[0, 0], [1, 0], [0, 0]]
    assert fitted.unknown_counts(new) == {"color": 2}
    with pytest.raises(DataError, match="'purple' .* not seen in training"):
        Preprocessor(unknown_category="error").fit(train).transform(new)


def test_old_model_json_reads_as_standard_scaling_without_indicators():
    state = {
        "input": "table",
        "columns": ["x"],
        "impute": None,
        "fill": None,
        "categories": {},
        "unknown_category": "error",
        "scale_features": True,
        "standardize": {"mean": [1.0], "scale": [2.0]},
    }
    old = Preprocessor.from_dict(state)
    assert old.scaling == "standard" and old.indicators_ == [] and not old.imputes
    assert old.transform(pd.DataFrame({"x": [5.0]})).tolist() == [[2.0]]


def test_a_rare_category_only_in_the_validation_part_does_not_stop_a_run(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "area": rng.lognormal(4, 0.5, 200),
            "zone": rng.choice(["a", "b", "c"], 200).astype(object),
            "price": rng.normal(size=200),
        }
    )
    frame.loc[[5, 17, 60], "area"] = np.nan
    frame.loc[7, "zone"] = "rare"  # one row: in one part only
    frame.to_csv(tmp_path / "h.csv", index=False)
    outside = 0  # seeds whose training part lacks the rare category
    for seed in range(3):
        config = build_config({"data": str(tmp_path / "h.csv"), "target": "price", "seed": seed})
        prepared = prepare_data(config)
        unseen = sum(sum(counts.values()) for counts in prepared.unknown.values())
        outside += "rare" not in prepared.preprocessor.categories_["zone"]
        assert unseen == ("rare" not in prepared.preprocessor.categories_["zone"])
        rows = dict(preprocessing_summary(prepared))
        assert rows["target"] == "standardised" and rows["numeric scaling"] == "robust"
        assert rows["missing values filled"].startswith("3 in 1 column(s)")
        assert rows["unseen categories"] == ("1" if unseen else "none")[: 1 if unseen else 4] or (
            rows["unseen categories"].startswith("1 (")
        )
    assert outside  # the 70/15/15 split puts the one row outside training for some seed
    for seed in range(3):
        settings = {"data": str(tmp_path / "h.csv"), "target": "price", "seed": seed}
        try:
            prepare_data(build_config({**settings, "unknown_category": "error"}))
        except DataError as error:
            assert "'rare'" in str(error) and "not seen in training" in str(error)
            outside -= 1
    assert outside == 0


def test_train_then_predict_new_rows_with_gaps_and_unseen_categories(tmp_path, cli, make_houses):
    frame = make_houses(150).astype({"rooms": float})
    frame.loc[[3, 10, 44, 90], "size"] = np.nan
    frame.loc[[5, 61], "city"] = None
    frame.to_csv(tmp_path / "houses.csv", index=False)
    new = pd.DataFrame(
        {
            "size": [np.nan, 100.0, 100.0, 100.0],
            "rooms": [2.0, np.nan, 2.0, 2.0],
            "city": ["paris", "lyon", None, "marseille"],
        }
    )
    new.to_csv(tmp_path / "new.csv", index=False)

    trained = cli(
        "train", "--data", "houses.csv", "--target", "price", "--epochs", "40", "--hidden", "16",
        "--lr", "0.02", "--out", "run",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert "missing values filled" in trained.stderr and "numeric scaling" in trained.stderr
    meta = json.loads((tmp_path / "run" / "model.json").read_text())
    pre = meta["preprocessing"]
    assert pre["impute"] == "median" and pre["numeric_scaling"] == "robust"
    assert pre["missing_indicators"] == ["size"] and pre["target"] is not None
    assert "size=(missing)" in meta["input_names"] and "city=(missing)" in meta["input_names"]

    predicted = cli("predict", "run", "new.csv")
    assert predicted.returncode == 0, predicted.stderr
    values = pd.read_csv(io.StringIO(predicted.stdout))["prediction"]
    assert len(values) == 4 and values.notna().all()
    fitted = Preprocessor.from_dict(pre)
    X = fitted.transform(new)
    names = meta["input_names"]
    assert X[0, names.index("size=(missing)")] == 1.0 and X[1, names.index("size=(missing)")] == 0
    assert X[2, names.index("city=(missing)")] == 1.0
    assert (
        X[3, [names.index(f"city={c}") for c in ("lyon", "nice", "paris", "(missing)")]].sum() == 0
    )

    refused = cli(
        "train", "--data", "houses.csv", "--target", "price", "--impute", "none", "--epochs", "1",
        "--out", "run2",
    )  # fmt: skip
    assert refused.returncode == 2 and "missing" in refused.stderr
