"""The Checkpoint callback: what a checkpoint holds, which files it writes and keeps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from mlpkit import (
    Checkpoint,
    EarlyStopping,
    LRScheduler,
    Monitor,
    load_checkpoint,
)
from mlpkit.errors import ConfigError
from samples import fit_with_checkpoints as train

SRC = str(Path(__file__).resolve().parents[2] / "src")


# -- what is saved ---------------------------------------------------------------------------
def test_checkpoint_holds_everything_a_resume_needs(tmp_path):
    model, history = train(
        tmp_path,
        epochs=3,
        callbacks=[
            EarlyStopping(5, restore_best=False),
            LRScheduler("step", step_size=1, gamma=0.5),
        ],
        optimizer="adam",
    )
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["epoch"] == 3
    for key, value in model.state_dict().items():
        assert torch.equal(state["model"][key], value)
    assert len(state["optimizer"]["state"]) == len(list(model.parameters()))  # Adam moments
    assert set(state["random"]) >= {"python", "numpy", "torch"}
    assert state["batch_order"].dtype == torch.uint8  # the batcher's generator
    callbacks = state["callbacks"]
    assert [r["epoch"] for r in callbacks["History"]["rows"]] == [1, 2, 3]
    assert callbacks["History"]["rows"] == history.to_dict("records")
    assert callbacks["LRScheduler"]["scheduler"]["last_epoch"] == 3
    assert callbacks["EarlyStopping"]["best_epoch"] is not None
    # The run's default monitor: a classification run with the accuracy metric watches it.
    assert callbacks["Checkpoint"]["monitor"] == "val_accuracy"
    assert state["versions"] == {"mlpkit": "0.1.0", "torch": str(torch.__version__)}
    assert type(state["versions"]["torch"]) is str  # torch's own version type would not load


def test_run_checkpoint_holds_the_config_and_architecture(tmp_path):
    from mlpkit.config import build_config
    from mlpkit.runs import train_run

    config = build_config(
        {"data": "iris", "hidden": [8], "epochs": 2, "out": str(tmp_path / "run"), "seed": 3}
    )
    train_run(config)
    state = load_checkpoint(tmp_path / "run")  # a run folder means its checkpoints/last.pt
    assert state["config"]["train"]["seed"] == 3
    assert state["config"]["data"]["name"] == "iris"
    assert state["architecture"]["hidden"] == [8]


# -- which files -----------------------------------------------------------------------------
def test_last_every_n_and_keep_last(tmp_path):
    checkpoint = Checkpoint(tmp_path, every=2, keep_last=2)
    train(tmp_path, epochs=7, checkpoint=checkpoint)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["best.pt", "epoch-0004.pt", "epoch-0006.pt", "last.pt"]
    assert load_checkpoint(tmp_path / "epoch-0004.pt")["epoch"] == 4
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 7


@pytest.mark.parametrize("monitor", ["val_loss", "val_accuracy", "train_loss"])
def test_best_checkpoint_is_the_best_epoch_of_the_history(tmp_path, monitor):
    model, history = train(tmp_path, epochs=6, checkpoint=Checkpoint(tmp_path, monitor=monitor))
    values = history[monitor]
    best = values.idxmin() if monitor.endswith("loss") else values.idxmax()  # first of ties
    state = load_checkpoint(tmp_path / "best.pt")
    assert state["epoch"] == history["epoch"][best]
    assert state["callbacks"]["Checkpoint"]["best"] == values[best]


def test_mode_is_inferred_from_the_name_and_can_be_overridden():
    for name in ("val_loss", "train_loss", "val_mse", "val_rmse", "val_mae"):
        assert Monitor(name).mode == "min"
    for name in ("val_accuracy", "val_f1", "val_r2", "val_roc_auc"):
        assert Monitor(name).mode == "max"
    assert Monitor("val_accuracy", mode="min").mode == "min"
    assert not Monitor("val_loss").improved(float("nan"), best=1.0)
    assert Monitor("val_loss", min_delta=0.1).improved(0.85, best=1.0)
    assert not Monitor("val_loss", min_delta=0.1).improved(0.95, best=1.0)


def test_monitoring_a_column_the_history_lacks_lists_the_columns(tmp_path):
    with pytest.raises(ConfigError, match="val_acuracy.*val_accuracy"):
        train(tmp_path, checkpoint=Checkpoint(tmp_path, monitor="val_acuracy"))
    with pytest.raises(ConfigError, match="keep_last"):
        Checkpoint(tmp_path, keep_last=2)
    with pytest.raises(ConfigError, match="folder"):
        Checkpoint(tmp_path / "last.pt")


def test_best_and_numbered_copies_work_without_hard_links(tmp_path, monkeypatch):
    # Some file systems (FAT, some network shares) have no hard links: copies are made instead.
    def no_links(source, target):
        raise OSError("hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    _, history = train(tmp_path, epochs=2, checkpoint=Checkpoint(tmp_path, every=1))
    best_epoch = int(history.loc[history["val_loss"].idxmin(), "epoch"])
    assert load_checkpoint(tmp_path / "best.pt")["epoch"] == best_epoch
    assert load_checkpoint(tmp_path / "epoch-0002.pt")["epoch"] == 2
    assert os.stat(tmp_path / "epoch-0002.pt").st_ino != os.stat(tmp_path / "last.pt").st_ino
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# -- written while the next epoch trains -----------------------------------------------------
def _checkpoint_threads() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == "mlpkit-checkpoint"]


def test_a_write_that_fails_on_the_thread_fails_the_fit_with_the_disk_error(tmp_path, monkeypatch):
    import errno

    from mlpkit.errors import WriteError
    from mlpkit.io import atomic

    real_fsync, calls = os.fsync, []

    def fsync(descriptor):
        calls.append(descriptor)
        if len(calls) > 6:  # the first checkpoints pass, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(descriptor)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    with pytest.raises(WriteError, match=r"cannot write .*last\.pt.*the disk is full"):
        train(tmp_path, epochs=30)
    assert not _checkpoint_threads()
    monkeypatch.setattr(atomic.os, "fsync", real_fsync)
    assert 0 <= load_checkpoint(tmp_path / "last.pt")["epoch"] < 30  # the last good one


def test_when_fit_fails_the_checkpoint_being_written_is_finished_first(tmp_path):
    from mlpkit.callbacks.base import Callback
    from mlpkit.errors import TrainingError

    class FailAfter(Callback):
        order = 200  # after the checkpoint has started writing the epoch

        def on_epoch_end(self, state):
            if state.epoch == 3:
                raise TrainingError("stop here")

    with pytest.raises(TrainingError, match="stop here"):
        train(tmp_path, epochs=10, callbacks=[FailAfter()])
    assert not _checkpoint_threads()
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 3
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
