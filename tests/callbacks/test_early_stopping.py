"""Early stopping against the history of the same run trained without it, and the run settings
(scheduler, early stopping, monitor, gradient clipping) reaching training from a config."""

from __future__ import annotations

import pytest
import torch

from mlpkit import MLP, Checkpoint, EarlyStopping, fit, load_checkpoint
from mlpkit.config import build_config
from mlpkit.errors import ConfigError
from mlpkit.runs import train_run
from samples import classes


def train(folder, epochs=40, callbacks=()):
    torch.manual_seed(0)
    model = MLP(6, [32], 3, dropout=0.2)
    history = fit(
        model,
        "cross_entropy",
        classes(48),
        classes(seed=1),
        epochs=epochs,
        batch_size=16,
        optimizer="adam",
        lr=0.02,
        metrics=["accuracy"],
        checkpoint=Checkpoint(folder, monitor="val_loss"),
        callbacks=callbacks,
    )
    return model, history


def expected_stop(values, patience, min_delta=0.0):
    """The epoch early stopping ends at, worked out from a full history (lower is better)."""
    best, wait = float("inf"), 0
    for epoch, value in enumerate(values, start=1):
        if value < best - min_delta:
            best, wait = value, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch
    return len(values)


@pytest.mark.parametrize(("patience", "min_delta"), [(2, 0.0), (3, 0.0), (2, 0.05)])
def test_stops_after_patience_epochs_without_improvement(tmp_path, patience, min_delta):
    _, full = train(tmp_path / "full", epochs=25)
    stop = expected_stop(full["val_loss"], patience, min_delta)
    assert stop < 25, "the data must make the run stop early"
    model, history = train(
        tmp_path / "es", callbacks=[EarlyStopping(patience, min_delta=min_delta)]
    )
    assert len(history) == stop
    assert f"did not improve for {patience} epochs" in history.attrs["stopped"]
    columns = [c for c in history.columns if c != "total_time"]
    assert history[columns].equals(full[columns].iloc[:stop])  # the same run, cut short


def test_restores_the_weights_of_the_best_epoch(tmp_path):
    model, history = train(tmp_path, callbacks=[EarlyStopping(2)])
    best = load_checkpoint(tmp_path / "best.pt")  # by the same monitor, val_loss
    assert best["epoch"] == int(history["val_loss"].idxmin()) + 1
    for key, value in model.state_dict().items():
        assert torch.equal(best["model"][key], value)
    kept, _ = train(tmp_path / "last", callbacks=[EarlyStopping(2, restore_best=False)])
    last = load_checkpoint(tmp_path / "last" / "last.pt")
    assert all(torch.equal(last["model"][k], v) for k, v in kept.state_dict().items())


def _stopped_at(rows, patience=3):
    """The epoch at which EarlyStopping on val_accuracy ends ``rows``, the kept epoch, and the
    bias of the weights it put back (each epoch's weights told apart by the bias)."""
    from types import SimpleNamespace

    from mlpkit.callbacks.base import StopTraining

    model = torch.nn.Linear(2, 1)
    state = SimpleNamespace(model=model, columns=list(rows[0]), has_validation=True)
    stopping = EarlyStopping(patience, monitor="val_accuracy")
    stopping.setup(state)
    stopped = None
    for epoch, row in enumerate(rows, start=1):
        with torch.no_grad():
            model.bias.fill_(epoch)
        state.row = {"epoch": epoch, **row}
        try:
            stopping.on_epoch_end(state)
        except StopTraining:
            stopped = epoch
            break
    stopping.on_fit_end(state)
    return stopped, stopping.best_epoch_, float(model.bias)


def test_a_saturated_accuracy_stops_after_patience_and_keeps_the_latest_tie():
    # perfect from epoch 3 on, and the loss no longer falls: ties are no progress
    accuracies = [0.8, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    rows = [{"val_accuracy": a, "val_loss": 0.5} for a in accuracies]
    # three epochs of ties after the last progress (epoch 3); the later equal accuracy is
    # kept, as RealMLP keeps it, and its weights put back
    assert _stopped_at(rows) == (6, 6, 6.0)


def test_an_accuracy_tie_with_a_falling_loss_is_progress():
    rows = [{"val_accuracy": 1.0, "val_loss": 1.0 / epoch} for epoch in range(1, 9)]
    assert _stopped_at(rows) == (None, 8, 8.0)  # the loss fell every epoch: no stop
    rows += [{"val_accuracy": 1.0, "val_loss": 1.0}] * 5
    assert _stopped_at(rows) == (11, 11, 11.0)  # three ties without a lower loss


def test_bad_settings_are_refused_when_built():
    with pytest.raises(ConfigError, match="patience must be a whole number of epochs >= 1, got 0"):
        EarlyStopping(0)
    with pytest.raises(ConfigError, match="min_delta must be >= 0"):
        EarlyStopping(3, min_delta=-1.0)
    with pytest.raises(ConfigError, match="keep_last.*checkpoint_every"):
        build_config({"keep_last": 2})


def test_a_run_config_sets_up_every_control(tmp_path):
    config = build_config(
        {
            "data": "iris",
            "hidden": [8],
            "epochs": 30,
            "lr": 0.05,
            "early_stopping": 3,
            "monitor": "val_accuracy",
            "scheduler": "step",
            "step_size": 2,
            "gamma": 0.5,
            "checkpoint_every": 2,
            "keep_last": 1,
            "out": str(tmp_path / "run"),
        }
    )
    result = train_run(config)
    folder = tmp_path / "run" / "checkpoints"
    state = load_checkpoint(folder / "last.pt")
    callbacks = state["callbacks"]
    assert callbacks["EarlyStopping"]["monitor"] == "val_accuracy"
    assert callbacks["Checkpoint"]["monitor"] == "val_accuracy"
    assert callbacks["LRScheduler"]["scheduler"]["step_size"] == 2
    epochs = len(result.history)
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.05 * 0.5 ** (epochs // 2))
    assert sorted(p.name for p in folder.glob("epoch-*.pt")) == [f"epoch-{epochs // 2 * 2:04d}.pt"]
    # An accuracy that ties the best counts as the best: the latest of the equal epochs.
    accuracy = result.history["val_accuracy"]
    best = int(accuracy[accuracy == accuracy.max()].index[-1]) + 1
    assert load_checkpoint(folder / "best.pt")["epoch"] == best


def test_clip_grad_norm_from_the_config_bounds_the_update(tmp_path):
    # One step of plain SGD with lr 1 moves the weights by exactly the (clipped) gradient.
    config = build_config(
        {
            "data": "iris",
            "hidden": [8],
            "epochs": 1,
            "batch_size": 1000,
            "optimizer": "sgd",
            "lr": 1.0,
            "clip_grad_norm": 0.001,
            "seed": 1,
            "out": str(tmp_path / "run"),
        }
    )
    torch.manual_seed(config.train.seed)
    from mlpkit.data.prepare import prepare_data
    from mlpkit.runs.build import build_model

    before = build_model(config, prepare_data(config)).state_dict()
    after = train_run(config).model.state_dict()
    moved = torch.cat([(after[k] - before[k]).flatten() for k in before]).norm()
    assert 0 < float(moved) <= 0.001 * (1 + 1e-4)
