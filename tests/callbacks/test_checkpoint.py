"""Checkpoints: what they hold, which files are written, atomic writes, safe and checked loading,
and non-finite losses never reaching a checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from mlpkit import (
    MLP,
    Checkpoint,
    EarlyStopping,
    LRScheduler,
    Monitor,
    fit,
    load_checkpoint,
    load_model,
    save_checkpoint,
    save_model,
)
from mlpkit.callbacks import Callback
from mlpkit.errors import CheckpointError, ConfigError, TrainingError
from mlpkit.io.atomic import atomic_write
from samples import classes

SRC = str(Path(__file__).resolve().parents[2] / "src")


def train(folder, epochs=4, callbacks=(), checkpoint=None, data=None, **options):
    torch.manual_seed(0)
    model = MLP(6, [8], 3)
    history = fit(
        model,
        "cross_entropy",
        classes() if data is None else data,
        classes(seed=1),
        epochs=epochs,
        batch_size=16,
        lr=0.1,
        metrics=["accuracy"],
        checkpoint=checkpoint if checkpoint is not None else folder,
        callbacks=callbacks,
        **{"optimizer": "sgd", **options},
    )
    return model, history


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
    assert callbacks["Checkpoint"]["monitor"] == "val_loss"
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


# -- atomic writes ---------------------------------------------------------------------------
def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(3)}})

    def write_half_then_fail(file):
        file.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, write_half_then_fail)
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


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


SAVER = """
import sys, torch
from mlpkit.io.checkpoint_file import save_checkpoint
path, round, weights = sys.argv[1], int(sys.argv[2]), torch.zeros(4_000_000)  # 16 MB
for count in range(1, 10**6):
    weights[0] = count
    save_checkpoint(path, {"model": {"w": weights}, "round": round, "count": count})
"""


def test_sigkill_during_saves_always_leaves_a_loadable_last_checkpoint(tmp_path):
    path = tmp_path / "last.pt"
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    rng = np.random.default_rng(0)
    leftovers = 0
    for round in range(3):
        child = subprocess.Popen([sys.executable, "-c", SAVER, str(path), str(round)], env=env)
        try:
            before = _first_save_of(path, round)
            time.sleep(rng.uniform(0.0, 0.3))  # saves take ~20 ms each: kill one part-way
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        state = load_checkpoint(path)  # never a half-written file
        assert state["round"] == round and state["count"] >= before
        assert state["model"]["w"][0] == state["count"]
        leftovers += len([p for p in tmp_path.iterdir() if p.name.endswith(".tmp")])
    assert leftovers > 0, "no kill landed during a write; the test proved nothing"
    # A new run writing into the folder removes what killed writes left behind.
    train(tmp_path, epochs=1)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def _first_save_of(path: Path, round: int) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.exists():
            state = load_checkpoint(path)
            if state["round"] == round:
                return int(state["count"])
        time.sleep(0.01)
    raise AssertionError("the saving process wrote nothing in 60 s")


# -- safe, checked loading -------------------------------------------------------------------
class Payload:
    """Stands for any pickled object; unpickling one can run arbitrary code."""


def test_a_checkpoint_needing_pickled_code_is_refused_with_the_way_out(tmp_path):
    path = tmp_path / "suspicious.pt"
    torch.save({"model": {}, "extra": Payload()}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message
    assert "runs code" in message and "weights_only=False" in message and "trust" in message


def test_saving_refuses_values_a_safe_load_would_refuse(tmp_path):
    for value, kind in ((np.float64(0.5), "numpy.float64"), (torch.__version__, "TorchVersion")):
        with pytest.raises(CheckpointError, match=f"best.*{kind}"):
            save_checkpoint(tmp_path / "last.pt", {"model": {}, "callbacks": {"best": value}})
    assert not list(tmp_path.iterdir())


def test_truncated_and_corrupted_checkpoints_are_named(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.arange(10_000.0)}})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=f"{path}.*truncated or corrupted"):
        load_checkpoint(path)
    # One weight changed on disk: torch.load would read it silently, the CRC check does not.
    flipped = bytearray(data)
    at = data.find(np.float32(1234.0).tobytes())
    flipped[at : at + 4] = np.float32(-1.0).tobytes()
    path.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match=f"{path} is corrupted.*checksum"):
        load_checkpoint(path)
    path.write_text("junk\n")  # overwritten by something else entirely
    with pytest.raises(CheckpointError, match=f"{path} is truncated or corrupted"):
        load_checkpoint(path)


def test_damaged_model_files_are_named(tmp_path):
    torch.manual_seed(0)
    save_model(tmp_path, MLP(4, [8], 3), {"task": "classification"})
    weights = tmp_path / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:-100])
    with pytest.raises(CheckpointError, match=f"{weights}.*corrupted"):
        load_model(tmp_path)
    flipped = bytearray(data)
    flipped[-5] ^= 0xFF  # a weight's bytes: safetensors itself cannot tell
    weights.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match=f"{weights} is corrupted.*SHA-256"):
        load_model(tmp_path)


def test_weights_of_another_architecture_list_every_mismatch(tmp_path):
    torch.manual_seed(0)
    save_model(tmp_path, MLP(4, [8], 3), {"task": "classification"})
    document = json.loads((tmp_path / "model.json").read_text())
    document["architecture"]["hidden"] = [5]
    (tmp_path / "model.json").write_text(json.dumps(document))
    with pytest.raises(CheckpointError) as info:
        load_model(tmp_path)
    message = str(info.value)
    assert "0.weight is (8, 4) but the model has (5, 4)" in message
    assert "2.weight is (3, 8) but the model has (3, 5)" in message


def test_resuming_into_another_architecture_lists_every_mismatch(tmp_path):
    train(tmp_path, epochs=1)
    torch.manual_seed(0)
    with pytest.raises(CheckpointError) as info:
        fit(MLP(6, [8, 4], 3), "cross_entropy", classes(), epochs=2, resume_from=tmp_path)
    message = str(info.value)
    assert "missing 4.weight" in message
    assert "2.weight is (3, 8) but the model has (4, 8)" in message


# -- non-finite losses -----------------------------------------------------------------------
class Poison(Callback):
    """From ``epoch`` on, make one training input NaN (a bad row in the data). In-memory data on
    the CPU is batched without a copy, so the row changes in the user's array."""

    def __init__(self, epoch: int, X: np.ndarray) -> None:
        self.epoch, self.X = epoch, X
        self.good: dict[str, torch.Tensor] = {}

    def on_epoch_start(self, state) -> None:
        if state.epoch == self.epoch:
            self.good = {k: v.clone() for k, v in state.model.state_dict().items()}
            self.X[7, 0] = float("nan")


def test_a_nan_loss_names_epoch_and_step_and_keeps_the_last_good_checkpoint(tmp_path):
    data = classes()
    poison = Poison(epoch=2, X=data[0])
    with pytest.raises(TrainingError, match=r"became nan at epoch 3, step \d+;.*--skip-nonfinite"):
        train(tmp_path, epochs=5, callbacks=[poison], data=data)
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["epoch"] == 2
    for key, value in poison.good.items():
        assert torch.equal(state["model"][key], value)


class Overflow(Callback):
    """At the end of epoch 2's last step, as if the update had overflowed with a finite loss."""

    def on_batch_end(self, state) -> None:
        if state.epoch == 1 and state.step == state.steps_per_epoch:
            with torch.no_grad():
                state.model[0].weight[0, 0] = float("inf")


def test_non_finite_weights_never_reach_the_checkpoint(tmp_path):
    with pytest.raises(TrainingError, match="weights became NaN or infinite in epoch 2"):
        train(tmp_path, epochs=4, callbacks=[Overflow()])
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["epoch"] == 1
    assert all(bool(t.isfinite().all()) for t in state["model"].values())


class Updates(Callback):
    """Records, per step, whether the weights and Adam's step counts changed."""

    def __init__(self) -> None:
        self.changed: list[bool] = []

    def on_epoch_start(self, state) -> None:
        self.before = self._snapshot(state)

    def on_batch_end(self, state) -> None:
        after = self._snapshot(state)
        self.changed.append(
            any(not torch.equal(a, b) for a, b in zip(self.before, after, strict=False))
        )
        self.before = after

    @staticmethod
    def _snapshot(state):
        adam = state.optimizer.state
        steps = [adam[p]["step"].clone() for p in state.model.parameters() if p in adam]
        return [p.detach().clone() for p in state.model.parameters()] + steps


def test_skip_nonfinite_skips_the_update_of_a_bad_batch(tmp_path):
    X, y = classes()
    X[7, 0] = np.nan  # one bad row: one bad batch per epoch
    updates = Updates()
    torch.manual_seed(0)
    model = MLP(6, [8], 3)
    history = fit(
        model,
        "cross_entropy",
        (X, y),
        epochs=3,
        batch_size=16,
        optimizer="adam",
        skip_nonfinite=True,
        callbacks=[updates],
        checkpoint=tmp_path,
    )
    assert history["skipped_batches"].tolist() == [1, 1, 1]
    assert history["train_loss"].notna().all()
    assert updates.changed.count(False) == 3  # exactly the bad batches changed nothing
    assert len(updates.changed) == 18
    assert all(bool(p.isfinite().all()) for p in model.parameters())
    assert history.attrs["step"] == "autograd"
    with pytest.raises(ConfigError, match="fused step cannot .*skip_nonfinite"):
        fit(model, "cross_entropy", (X, y), epochs=1, step="fused", skip_nonfinite=True)


class Deterministic(Callback):
    def on_epoch_end(self, state) -> None:
        self.seen = torch.are_deterministic_algorithms_enabled()


def test_deterministic_holds_during_fit_only(tmp_path):
    probe = Deterministic()
    before = torch.are_deterministic_algorithms_enabled()
    train(tmp_path, epochs=1, callbacks=[probe], deterministic=True)
    assert probe.seen is True
    assert torch.are_deterministic_algorithms_enabled() is before
