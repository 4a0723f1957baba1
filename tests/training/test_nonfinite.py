"""Non-finite losses and weights: training stops with the epoch and step (or skips such batches)
and a bad update never reaches a checkpoint; deterministic algorithms hold during fit only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mlpkit import (
    MLP,
    fit,
    load_checkpoint,
)
from mlpkit.callbacks import Callback
from mlpkit.errors import ConfigError, TrainingError
from samples import classes
from samples import fit_with_checkpoints as train

SRC = str(Path(__file__).resolve().parents[2] / "src")


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
