"""The training settings left to the data: epochs from a budget of steps, early stopping with a
validation part, the best epoch's weights kept, label smoothing by the monitored metric."""

from __future__ import annotations

import numpy as np
import pytest

import mlpkit
from mlpkit.config import OptimConfig, TrainConfig, build_config, load_config
from mlpkit.runs import train_run
from mlpkit.training import defaults
from mlpkit.training.defaults import (
    auto_epochs,
    auto_patience,
    resolve_label_smoothing,
    resolve_training,
)
from samples import classes


def test_the_budget_is_about_2000_steps_within_the_bounds():
    assert auto_epochs(40) == 50  # the digits' 1,257 training rows in batches of 32
    assert auto_epochs(4) == defaults.EPOCHS[1]  # wine: 500 epochs wanted, 200 at most
    assert auto_epochs(5000) == defaults.EPOCHS[0]
    assert [auto_patience(e) for e in (10, 50, 80, 200)] == [5, 10, 16, 16]


def test_explicit_settings_are_kept_and_no_validation_means_no_early_stopping():
    explicit = resolve_training(TrainConfig(epochs=7, early_stopping=3), 40, True)
    assert (explicit.epochs, explicit.early_stopping) == (7, 3)
    assert resolve_training(TrainConfig(), 40, has_validation=False).early_stopping == 0
    assert resolve_training(TrainConfig(early_stopping=0), 40, True).early_stopping == 0


def tiny_fit(val=True, **settings):
    X, y = classes(n=64)
    X_val, y_val = classes(n=48, seed=1)
    y_val = np.random.default_rng(2).integers(0, 3, size=len(y_val))  # noise: it will overfit
    model = mlpkit.MLP(6, [32], 3)
    history = mlpkit.fit(
        model, "cross_entropy", (X, y), (X_val, y_val) if val else None, lr=0.01, **settings
    )
    return model, history, (X_val, y_val)


def test_fit_plans_epochs_from_the_data_and_stops_early_on_validation_loss():
    model, history, val = tiny_fit()
    assert history.attrs["epochs"] == auto_epochs(2)  # 64 rows in batches of 32
    patience = auto_patience(history.attrs["epochs"])
    kept = history.attrs["kept_epoch"]
    assert len(history) < history.attrs["epochs"] and "did not improve" in history.attrs["stopped"]
    assert len(history) - kept == patience
    assert kept == int(history["val_loss"].idxmin()) + 1
    # The model ends with the kept epoch's weights: evaluating it again gives that row.
    again = mlpkit.evaluate(model, val, loss="cross_entropy")
    assert again["loss"] == pytest.approx(history["val_loss"].iloc[kept - 1], rel=1e-5)


def test_without_validation_or_with_early_stopping_0_every_epoch_runs():
    _, history, _ = tiny_fit(val=False, epochs=12)
    assert len(history) == 12 and history.attrs["kept_epoch"] == 12
    _, history, _ = tiny_fit(epochs=30, early_stopping=0)
    assert len(history) == 30  # never stopped, but the best epoch's weights are kept
    assert history.attrs["kept_epoch"] == int(history["val_loss"].idxmin()) + 1
    _, history, _ = tiny_fit(epochs=30, early_stopping=0, restore_best=False)
    assert history.attrs["kept_epoch"] == 30


def test_label_smoothing_only_when_monitoring_an_accuracy():
    assert resolve_label_smoothing(OptimConfig(), TrainConfig()) == 0.0
    monitored = TrainConfig(monitor="val_accuracy")
    assert resolve_label_smoothing(OptimConfig(), monitored) == defaults.ACCURACY_SMOOTHING
    assert resolve_label_smoothing(OptimConfig(label_smoothing=0.05), monitored) == 0.05
    _, history, _ = tiny_fit(epochs=2)
    assert history.attrs["label_smoothing"] == 0.0
    _, history, _ = tiny_fit(epochs=2, metrics=["accuracy"], monitor="val_accuracy")
    assert history.attrs["label_smoothing"] == defaults.ACCURACY_SMOOTHING


def test_a_run_resolves_the_same_defaults_and_config_toml_records_them(tmp_path, monkeypatch):
    monkeypatch.setattr(defaults, "BUDGET_STEPS", 40)  # 4 steps per epoch: 10 epochs
    config = build_config({"data": "iris", "hidden": [8], "out": str(tmp_path / "run")})
    result = train_run(config.model_copy(update={"report": False}))
    assert (result.config.train.epochs, result.config.train.early_stopping) == (10, 5)
    # A classification run with validation data watches its accuracy, so smooths labels by 0.1.
    assert result.config.train.monitor == "val_accuracy"
    assert result.config.optim.label_smoothing == 0.1
    saved = load_config(result.run_dir / "config.toml")
    assert (saved.train.epochs, saved.train.early_stopping) == (10, 5)
    assert (saved.train.monitor, saved.optim.label_smoothing) == ("val_accuracy", 0.1)
    lines = dict(result.training)
    assert lines["epochs"].startswith(f"{len(result.history)} of 10")
    assert lines["weights kept"].startswith(f"epoch {result.history.attrs['kept_epoch']}")
    assert lines["label smoothing"].startswith("0.1")
