"""``cross_validate``: each fold trains exactly as a run of its own on its training folds, never
sees its held-out fold, stops early and keeps its best epoch on its own, and the folder is
written whole or not at all."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import mlpkit
from mlpkit.config import RunConfig, load_config, merge
from mlpkit.cv import assign_folds, cross_validate
from mlpkit.cv.data import cv_config, prepare_folds
from mlpkit.data.batching import TensorBatcher
from mlpkit.errors import ConfigError, TrainingError
from mlpkit.optim import default_lr

# No label smoothing: the references below train on the plain cross-entropy.
TWO_EPOCHS = {"epochs": 2, "early_stopping": 0, "restore_best": False, "hidden": [16],
              "threads": 1, "device": "cpu", "label_smoothing": 0.0}  # fmt: skip


def settings(tmp_path, **values):
    return merge(RunConfig(), {"data": "iris", "out": str(tmp_path / "cv"), **values})


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_each_fold_learns_as_a_run_of_its_own_on_its_training_folds(tmp_path, optimizer):
    # SGD with momentum too: a gradient shared out over the K members would move it K times less.
    options = {"momentum": 0.9, "lr": 0.05} if optimizer == "sgd" else {}
    config = settings(tmp_path, **TWO_EPOCHS, seed=4, optimizer=optimizer, **options)
    result = cross_validate(config, folds=5)
    # The reference: fold k's MLP alone, from seed + k, trained by autograd on the same
    # batches of its training rows (the batcher's per-member order, drawn from the run's seed).
    data = prepare_folds(cv_config(config), 5)
    batches = TensorBatcher(data.inputs[0], data.targets, 32, shuffle=True, seed=4)
    batches.per_member(5, [torch.as_tensor(t) for t in data.training], inputs=data.inputs)
    epochs = [list(batches) for _ in range(2)]
    loss_fn = nn.CrossEntropyLoss()
    for k in range(5):
        torch.manual_seed(4 + k)
        alone = mlpkit.MLP(4, [16], 3)
        if optimizer == "sgd":
            update = torch.optim.SGD(alone.parameters(), lr=0.05, momentum=0.9)
        else:
            update = torch.optim.Adam(alone.parameters(), lr=default_lr("adam"))
        for epoch in epochs:
            for x, y in epoch:
                b = x.shape[1]
                update.zero_grad()
                loss_fn(alone(x[k]), y[k * b : (k + 1) * b]).backward()
                update.step()
        member = result.model.member(k)
        for mine, theirs in zip(member.parameters(), alone.parameters(), strict=True):
            torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=1e-5)
        held = data.held_out[k]
        with torch.no_grad():
            val_loss = loss_fn(alone(data.fold_inputs(k, held)), data.targets[held])
        assert result.folds[k]["val_loss"] == pytest.approx(float(val_loss), abs=1e-5)
    accuracy = result.summary["val_accuracy"]
    folds = [f["val_accuracy"] for f in result.folds]
    assert accuracy["folds"] == folds and accuracy["mean"] == pytest.approx(np.mean(folds))
    assert accuracy["std"] == pytest.approx(np.std(folds)) and accuracy["min"] == min(folds)


def blob_table(path, X, y):
    table = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).assign(label=y)
    table.to_csv(path, index=False)
    return str(path)


def test_a_fold_never_sees_its_held_out_rows(tmp_path, blobs):
    """Changing the rows fold 1 holds out (features wildly rescaled) leaves fold 1's model
    exactly as it was, preprocessing included, and changes fold 2's, which trains on them."""
    X, y = blobs
    values = {**TWO_EPOCHS, "target": "label", "task": "classification"}
    first = cross_validate(
        settings(
            tmp_path, **values, data=blob_table(tmp_path / "a.csv", X, y), out=str(tmp_path / "a")
        ),
        3,
    )
    held = assign_folds(y, 3, seed=0, stratify=True)[0]
    changed = X.copy()
    changed[held] = changed[held] * 50 + 7
    second = cross_validate(
        settings(
            tmp_path,
            **values,
            data=blob_table(tmp_path / "b.csv", changed, y),
            out=str(tmp_path / "b"),
        ),
        3,
    )
    assert first.preprocessing == "fitted per fold, on its training folds"
    for a, b in zip(
        first.model.member(0).parameters(), second.model.member(0).parameters(), strict=True
    ):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    moved = [
        not torch.allclose(a, b)
        for a, b in zip(
            first.model.member(1).parameters(), second.model.member(1).parameters(), strict=True
        )
    ]
    assert any(moved)


def test_each_fold_stops_early_and_keeps_its_best_epoch(tmp_path):
    config = settings(tmp_path, epochs=40, early_stopping=3, hidden=[8], lr=0.05, threads=1,
                      monitor="val_loss")  # fmt: skip
    result = cross_validate(config, folds=3)
    history = result.history
    assert any(f["stopped_early"] for f in result.folds)
    for k, fold in enumerate(result.folds):
        column = history[f"fold{k + 1}_val_loss"].to_numpy()[: fold["epochs_trained"]]
        assert fold["epoch"] == int(column.argmin()) + 1
        assert fold["val_loss"] == pytest.approx(column.min())
        if fold["stopped_early"]:  # masked: it learns no more, its scores stay
            after = history[f"fold{k + 1}_val_loss"].to_numpy()[fold["epochs_trained"] - 1 :]
            assert np.allclose(after, after[0])
    saved = json.loads((result.folder / "cv.json").read_text())
    assert saved["scores_at"] == "each fold's best epoch by val_loss (restore_best)"
    assert saved["metrics"]["val_loss"]["folds"] == [f["val_loss"] for f in result.folds]


def test_scaled_regression_targets_are_scored_in_their_original_units(tmp_path):
    config = settings(tmp_path, **TWO_EPOCHS, data="diabetes")
    result = cross_validate(config, folds=3)
    data = prepare_folds(cv_config(config), 3)
    scaler = data.prepared.target_scaler
    assert scaler is not None and result.details["target_scaling"]
    for k, held in enumerate(data.held_out):
        with torch.no_grad():
            out = result.model.member(k).eval()(data.fold_inputs(k, held)).numpy()
        truth = scaler.inverse_transform(data.targets[held].numpy())
        rmse = np.sqrt(np.mean((scaler.inverse_transform(out) - truth) ** 2))
        assert result.folds[k]["val_rmse"] == pytest.approx(rmse, rel=1e-4)
        assert result.folds[k]["val_rmse"] > 10  # diabetes' units, not standardised ones


def test_a_test_part_asked_for_stays_aside_and_each_fold_scores_it(tmp_path):
    result = cross_validate(settings(tmp_path, **TWO_EPOCHS, test_fraction=0.2), folds=3)
    assert result.details["rows"] == 120 and result.details["test_rows"] == 30
    assert {"test_loss", "test_accuracy"} <= set(result.summary)
    assert len(result.summary["test_accuracy"]["folds"]) == 3


def test_config_toml_reruns_the_same_cross_validation(tmp_path):
    first = cross_validate(settings(tmp_path, **TWO_EPOCHS), folds=3)
    again = load_config(first.folder / "config.toml")
    again.out = str(tmp_path / "again")
    assert cross_validate(again, folds=3).summary == first.summary  # the same folds and weights


def test_the_folder_is_written_whole_or_not_at_all(tmp_path):
    config = settings(tmp_path, **TWO_EPOCHS)
    cross_validate(config, folds=3)
    assert sorted(p.name for p in (tmp_path / "cv").iterdir() if p.name != ".lock") == [
        "config.toml", "cv.json", "history.csv"]  # fmt: skip
    before = (tmp_path / "cv" / "cv.json").read_text()
    with pytest.raises(ConfigError, match="--overwrite"):
        cross_validate(config, folds=3)
    with pytest.raises(TrainingError):  # diverges: the earlier folder stays as it was
        cross_validate(merge(config, {"overwrite": True, "lr": 1e12, "optimizer": "sgd"}), 3)
    assert (tmp_path / "cv" / "cv.json").read_text() == before
    with pytest.raises(TrainingError):  # a new folder that fails leaves nothing behind
        cross_validate(
            merge(config, {"out": str(tmp_path / "new"), "lr": 1e12, "optimizer": "sgd"}), 3
        )
    assert not (tmp_path / "new").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_what_the_stacked_step_cannot_run_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match="leave it out"):
        cross_validate(settings(tmp_path, batch_norm=True), folds=3)
    with pytest.raises(ConfigError, match="--optimizer"):
        cross_validate(settings(tmp_path, optimizer="rmsprop"), folds=3)
    assert not (tmp_path / "cv").exists()


def test_folds_whose_own_preprocessing_would_differ_in_width_share_one_and_say_so(tmp_path):
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"a": rng.normal(size=90), "color": rng.choice(["red", "blue"], 90)})
    table.loc[5, "color"] = "green"  # in one fold's held-out rows only: a column the others lack
    table.assign(label=rng.integers(0, 2, 90)).to_csv(tmp_path / "t.csv", index=False)
    config = settings(tmp_path, **TWO_EPOCHS, data=str(tmp_path / "t.csv"), target="label")
    result = cross_validate(config, folds=3)
    assert result.preprocessing.startswith("fitted once on all the folds' rows (")
    assert json.loads((result.folder / "cv.json").read_text())["preprocessing"] == (
        result.preprocessing
    )
