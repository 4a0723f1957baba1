"""The search space is made of the declared settings, and refuses in one line what they do."""

from __future__ import annotations

import optuna
import pytest

from mlpkit.config import RunConfig, build_config, merge
from mlpkit.errors import ConfigError
from mlpkit.tune.space import SearchSpace, default_space


def refusal(spec) -> str:
    with pytest.raises(ConfigError) as error:
        SearchSpace.from_dict(spec)
    message = str(error.value)
    assert "\n" not in message
    return message


def test_a_misspelt_setting_is_refused_with_the_nearest_names():
    assert "did you mean dropout" in refusal({"dropuot": {"low": 0.0, "high": 0.5}})


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"lr": {"low": 0.1, "high": 0.001}}, "low must be below high"),
        ({"lr": {"low": 0.0, "high": 0.1, "log": True}}, "a log range needs low > 0"),
        ({"dropout": {"low": 0.0, "high": 1.5}}, "bad setting model.dropout"),
        ({"epochs": {"low": 0, "high": 10}}, "bad setting train.epochs"),
        ({"batch_size": {"low": 8.5, "high": 64}}, "whole number"),
        ({"optimizer": ["adam", "no_such_optimizer"]}, "no_such_optimizer"),
        ({"hidden": {"depth": [3, 1], "width": [16, 64]}}, "depth is [lowest, highest]"),
        ({"activation": {"low": 1, "high": 2}}, "give choices instead"),
        ({"lr": {"low": 1e-4, "hihg": 0.1}}, "unknown key 'hihg'"),
    ],
)
def test_an_impossible_range_is_refused_naming_the_setting(spec, says):
    message = refusal(spec)
    assert says in message
    assert next(iter(spec)) in message


def test_settings_that_decide_what_trials_are_compared_on_cannot_be_searched():
    for name in ("seed", "data", "val_fraction", "metrics"):
        assert "every trial must be trained and compared on the same terms" in refusal(
            {name: [1, 2]}
        )


def test_the_default_space_searches_an_mlp_and_leaves_settings_the_user_set_alone():
    classification = default_space("classification", RunConfig())
    assert set(classification.names) == {
        "lr", "hidden", "dropout", "weight_decay", "batch_size", "label_smoothing",
    }  # fmt: skip
    assert "label_smoothing" not in default_space("regression", RunConfig()).names
    mse = build_config({"loss": "mse"})
    assert "label_smoothing" not in default_space("classification", mse).names
    fixed = default_space("classification", RunConfig(), fixed={"lr", "hidden", "batch_size"})
    assert set(fixed.names) == {"dropout", "weight_decay", "label_smoothing"}


def test_every_point_of_the_default_space_is_a_valid_run_config():
    space = default_space("classification", RunConfig())
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    depths = set()
    for _ in range(40):
        params = space.suggest(study.ask())
        config = merge(RunConfig(), params)  # validated by the settings' own declarations
        assert 1 <= len(config.model.hidden) <= 4
        assert all(32 <= w <= 512 for w in config.model.hidden)
        assert 1e-4 <= config.optim.lr <= 0.1
        depths.add(len(config.model.hidden))
    assert depths == {1, 2, 3, 4}


def test_layers_take_a_depth_and_a_width_per_layer_or_one_for_all():
    each = SearchSpace.from_dict({"hidden": {"depth": [1, 3], "width": [8, 64]}})
    trial = optuna.trial.FixedTrial(
        {"hidden_depth": 2, "hidden_width_1": 64, "hidden_width_2": 16, "hidden_width_3": 8}
    )
    assert each.suggest(trial) == {"hidden": [64, 16]}
    same = SearchSpace.from_dict({"hidden": {"depth": [1, 3], "width": [8, 64], "widths": "same"}})
    trial = optuna.trial.FixedTrial({"hidden_depth": 3, "hidden_width": 32})
    assert same.suggest(trial) == {"hidden": [32, 32, 32]}


def test_a_space_is_kept_as_data_and_read_back_the_same():
    spec = {
        "optim.lr": {"low": 1e-4, "high": 0.1, "log": True},
        "epochs": {"low": 2, "high": 6},
        "optimizer": ["adam", "sgd"],
        "hidden": {"depth": [1, 2], "width": [8, 32], "widths": "same"},
    }
    space = SearchSpace.from_dict(spec)
    assert space.names == ["lr", "epochs", "optimizer", "hidden"]  # paths become names
    again = SearchSpace.from_dict(space.to_dict())
    assert again.to_dict() == space.to_dict()
    trial = optuna.trial.FixedTrial(
        {"lr": 0.01, "epochs": 4, "optimizer": "sgd", "hidden_depth": 2, "hidden_width": 8}
    )
    assert again.suggest(trial) == {"lr": 0.01, "epochs": 4, "optimizer": "sgd", "hidden": [8, 8]}
