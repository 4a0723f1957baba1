"""mlpkit.sklearn: MLPClassifier and MLPRegressor are scikit-learn estimators whose parameters
are mlpkit's settings."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from mlpkit.config import SETTINGS, build_config
from mlpkit.errors import ConfigError
from mlpkit.sklearn import MLPClassifier, MLPRegressor
from mlpkit.sklearn.params import LEFT_OUT

# Small, fast settings for scikit-learn's checks (each check fits a few times).
SMALL = {"hidden": (16,), "epochs": 15, "lr": 0.02, "batch_size": 32}

# scikit-learn checks the estimators do not pass, and why (none at the moment).
EXPECTED_FAILURES: dict[str, dict[str, str]] = {"MLPClassifier": {}, "MLPRegressor": {}}


@parametrize_with_checks(
    [MLPClassifier(**SMALL), MLPRegressor(**SMALL)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILURES[type(estimator).__name__],
)
def test_the_estimators_pass_scikit_learns_checks(estimator, check):
    check(estimator)


def iris():
    X, y = load_iris(return_X_y=True)
    return X.astype(np.float32), y


def test_the_parameters_are_the_declared_settings_with_their_defaults():
    expected = {s.name for s in SETTINGS if s.path not in LEFT_OUT and s.section != "run"}
    regressor = MLPRegressor().get_params()
    classifier = MLPClassifier().get_params()
    assert set(regressor) == expected
    assert set(classifier) == expected - {"scale_target"}
    defaults = {s.name: s.default for s in SETTINGS}
    for name, value in regressor.items():
        assert (list(value) if isinstance(value, tuple) else value) == defaults[name], name
    assert classifier["hidden"] == (256, 128) and classifier["epochs"] is None  # from the data


def test_a_bad_parameter_value_gets_the_settings_message_when_fitting():
    with pytest.raises(ConfigError) as from_settings:
        build_config({"dropout": 1.5})
    with pytest.raises(ConfigError) as from_estimator:
        MLPClassifier(dropout=1.5).fit(*iris())
    assert str(from_estimator.value) == str(from_settings.value)


def test_a_misspelt_parameter_gets_the_nearest_names():
    with pytest.raises(TypeError, match="did you mean epochs"):
        MLPClassifier(epoch=3)


def test_the_classifier_works_in_a_pipeline_a_grid_search_and_cross_validation():
    X, y = iris()
    pipeline = Pipeline(
        [("scale", StandardScaler()), ("mlp", MLPClassifier(hidden=(16,), epochs=30, lr=0.01))]
    )
    search = GridSearchCV(pipeline, {"mlp__hidden": [(4,), (16,)]}, cv=3).fit(X, y)
    assert search.best_params_["mlp__hidden"] in [(4,), (16,)]
    assert search.best_score_ > 0.85
    scores = cross_val_score(MLPClassifier(hidden=(16,), epochs=30, lr=0.01), X, y, cv=3)
    assert scores.mean() > 0.85


def test_a_pickled_estimator_predicts_exactly_as_before():
    X, y = iris()
    model = MLPClassifier(hidden=(8,), epochs=5).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    assert list(again.history_.columns) == list(model.history_.columns)


def colours(rows: int = 240, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=rows),
            "colour": pd.Categorical(rng.choice(["red", "green", "blue"], rows)),
            "shape": rng.choice(["round", "square"], rows),
        }
    )
    y = np.where((frame.colour == "red") | (frame["size"] > 1), "yes", "no")
    return frame, y


def test_dataframes_with_categorical_columns_are_one_hot_encoded_by_name():
    X, y = colours()
    model = MLPClassifier(hidden=(16,), epochs=30, lr=0.01).fit(X, y)
    assert list(model.feature_names_in_) == ["size", "colour", "shape"]
    assert model.n_features_in_ == 3
    assert model.preprocessor_.output_names_ == [
        "size", "colour=blue", "colour=green", "colour=red", "shape=round", "shape=square"
    ]  # fmt: skip
    new, truth = colours(60, seed=1)
    assert model.score(new, truth) > 0.9
    new.loc[0, "shape"] = "triangle"
    model.predict(new)  # an unseen category is all zeros by default
    strict = MLPClassifier(hidden=(16,), epochs=1, unknown_category="error").fit(X, y)
    with pytest.raises(ValueError, match="column 'shape' .* category 'triangle'"):
        strict.predict(new)


def test_the_preprocessing_parameters_reach_the_fitted_preprocessor():
    X, y = colours()
    X.loc[::10, "size"] = np.nan
    tiny = {"hidden": (8,), "epochs": 1}
    default = MLPClassifier(**tiny).fit(X, y).preprocessor_
    assert (default.scaling, default.max_levels) == ("robust", 256)
    assert default.indicators_ == ["size"] and default.quantiles_ is None
    assert "colour=(other)" not in default.output_names_
    chosen = MLPClassifier(
        numeric_scaling="quantile", max_categories=2, missing_indicators=False, **tiny
    ).fit(X, y)
    fitted = chosen.preprocessor_
    assert (fitted.scaling, fitted.max_levels, fitted.indicators_) == ("quantile", 2, [])
    assert fitted.quantiles_ is not None
    assert fitted.categories_["colour"][-1] == "(other)"  # 3 colours capped at 2 levels
    assert chosen.predict(X).shape == (len(X),)
    regressor = MLPRegressor(numeric_scaling="standard", **tiny).fit(X[["size"]], np.arange(240.0))
    assert regressor.preprocessor_.scaling == "standard"


def test_impute_none_refuses_missing_values_and_says_so_in_the_tags():
    X, y = iris()
    X[0, 0] = np.nan
    strict = MLPClassifier(impute="none", hidden=(8,), epochs=1)
    assert strict.__sklearn_tags__().input_tags.allow_nan is False
    assert MLPClassifier().__sklearn_tags__().input_tags.allow_nan is True
    with pytest.raises(ValueError, match="NaN"):
        strict.fit(X, y)
    MLPClassifier(hidden=(8,), epochs=1).fit(X, y)  # median by default


def test_partial_fit_trains_one_epoch_per_call_from_where_it_left_off():
    X, y = iris()
    model = MLPClassifier(hidden=(16,), lr=0.01, batch_size=16)
    with pytest.raises(ValueError, match="classes"):
        model.partial_fit(X, y)
    for _ in range(15):
        model.partial_fit(X, y, classes=[0, 1, 2])
    losses = model.history_["train_loss"].to_numpy()
    assert list(model.history_["epoch"]) == list(range(1, 16))
    assert losses[-1] < losses[0] * 0.7
    assert model.score(X, y) > 0.8


def test_the_regressor_predicts_in_the_targets_units_for_one_or_several_targets():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = 1000 + 50 * X[:, 0] - 20 * X[:, 1]
    model = MLPRegressor(hidden=(16,), epochs=40, lr=0.01, scale_target=True).fit(X, y)
    assert model.predict(X).shape == (300,)
    assert model.score(X, y) > 0.95
    both = np.column_stack([y, -y])
    two = MLPRegressor(hidden=(16,), epochs=40, lr=0.01, scale_target=True).fit(X, both)
    assert two.predict(X).shape == (300, 2) and two.score(X, both) > 0.95
