"""Pruning is a callback of the one training loop: it reports every epoch and stops the run."""

from __future__ import annotations

import optuna

from mlpkit import MLP, fit
from mlpkit.tune.pruning import TrialPruning
from samples import classes


def train(trial, epochs=4):
    pruning = TrialPruning(trial, "val_accuracy")
    history = fit(
        MLP(6, [8], 3),
        "cross_entropy",
        classes(),
        classes(seed=1),
        epochs=epochs,
        batch_size=16,
        lr=0.05,
        metrics=["accuracy"],
        callbacks=[pruning],
    )
    return pruning, history


def test_a_trial_the_pruner_stops_ends_training_after_that_epoch():
    # Accuracy is never above 1.0: this pruner stops every trial at its first report.
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(1.0))
    trial = study.ask()
    pruning, history = train(trial)
    assert pruning.pruned_at == 1
    assert history["epoch"].tolist() == [1]
    assert history.attrs["stopped"] == "pruned after epoch 1"
    reported = study.get_trials()[0].intermediate_values
    assert reported == {1: history["val_accuracy"].iloc[0]}


def test_without_pruning_every_epoch_is_reported_and_trained():
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    trial = study.ask()
    pruning, history = train(trial, epochs=3)
    assert pruning.pruned_at is None
    assert len(history) == 3
    assert study.get_trials()[0].intermediate_values == dict(
        zip(history["epoch"], history["val_accuracy"], strict=True)
    )
