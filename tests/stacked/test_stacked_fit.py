"""``mlpkit.fit`` on a StackedMLP: K members trained as one ensemble, in the one loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import mlpkit
from mlpkit.errors import ConfigError
from mlpkit.stacked import Ensemble, StackedMLP

SETTINGS = dict(epochs=3, batch_size=32, metrics=["accuracy"], early_stopping=0, threads=1)


@pytest.fixture
def parts():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(np.int64)
    return (X[:240], y[:240]), (X[240:], y[240:])


def test_one_member_trains_as_the_mlp_of_its_seed(parts):
    train, val = parts
    torch.manual_seed(0)
    mlp = mlpkit.MLP(6, [16, 16], 2)
    alone = mlpkit.fit(mlp, "cross_entropy", train, val, **SETTINGS, restore_best=False)
    stack = StackedMLP(1, 6, [16, 16], 2, seeds=[0])
    stacked = mlpkit.fit(stack, "cross_entropy", train, val, **SETTINGS, restore_best=False)
    assert stacked.attrs["step"] == "stacked" and stacked.attrs["members"] == 1
    columns = [c for c in alone.columns if c != "total_time"]
    np.testing.assert_allclose(stacked[columns], alone[columns], atol=1e-5)
    for name, tensor in stack.member(0).state_dict().items():
        torch.testing.assert_close(tensor, mlp.state_dict()[name], atol=1e-5, rtol=0)


def test_the_history_is_the_ensembles_and_each_member_is_scored_alone(parts):
    train, (X_val, y_val) = parts
    stack = StackedMLP(4, 6, [16], 2)
    history = mlpkit.fit(stack, "cross_entropy", train, (X_val, y_val), **SETTINGS)
    ensemble = Ensemble(stack, "classification").eval()
    with torch.no_grad():
        logits = ensemble(torch.from_numpy(X_val))
    # The kept epoch's row (the best val_accuracy's), with the run's label smoothing (0.1: it
    # watches an accuracy).
    kept = history[history["epoch"] == history.attrs["kept_epoch"]].iloc[0]
    smoothing = history.attrs["label_smoothing"]
    targets = torch.from_numpy(y_val)
    expected = nn.functional.cross_entropy(logits, targets, label_smoothing=smoothing).item()
    assert kept["val_loss"] == pytest.approx(expected, abs=1e-5)
    accuracy = (logits.argmax(1).numpy() == y_val).mean()
    assert kept["val_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    scores = history.attrs["member_scores"]
    assert [s["member"] for s in scores] == [0, 1, 2, 3]
    with torch.no_grad():
        member_logits = stack(torch.from_numpy(X_val))[2]
    alone = nn.functional.cross_entropy(member_logits, targets, label_smoothing=smoothing).item()
    assert scores[2]["val_loss"] == pytest.approx(alone, abs=1e-5)


def test_regression_members_average_their_values():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5], dtype=np.float32)).astype(np.float32)
    stack = StackedMLP(3, 3, [16], 1)
    history = mlpkit.fit(
        stack, "mse", (X[:160], y[:160]), (X[160:], y[160:]), epochs=30, lr=0.01,
        early_stopping=0, threads=1,
    )  # fmt: skip
    assert history["val_loss"].iloc[-1] < 0.5 * history["val_loss"].iloc[0]
    assert len(history.attrs["member_scores"]) == 3


def test_a_stacked_run_resumes_from_its_checkpoint_as_if_it_had_not_stopped(parts, tmp_path):
    train, val = parts
    whole = StackedMLP(3, 6, [16], 2, dropout=0.1)
    straight = mlpkit.fit(whole, "cross_entropy", train, val, **{**SETTINGS, "epochs": 4})
    first = StackedMLP(3, 6, [16], 2, dropout=0.1)
    mlpkit.fit(first, "cross_entropy", train, val, **{**SETTINGS, "epochs": 2},
               checkpoint=tmp_path)  # fmt: skip
    resumed_model = StackedMLP(3, 6, [16], 2, dropout=0.1)
    resumed = mlpkit.fit(
        resumed_model, "cross_entropy", train, val, **{**SETTINGS, "epochs": 4},
        resume_from=tmp_path / "last.pt",
    )  # fmt: skip
    columns = [c for c in straight.columns if c != "total_time"]
    np.testing.assert_array_equal(resumed[columns], straight[columns])
    assert torch.equal(resumed_model.weights[0], whole.weights[0])


def test_what_an_ensemble_cannot_train_with_is_refused(parts):
    train, _ = parts
    with pytest.raises(ConfigError, match="stacked step only"):
        mlpkit.fit(StackedMLP(2, 6, [8], 2), "cross_entropy", train, epochs=1, step="autograd")
    with pytest.raises(ConfigError, match="sgd, adam, adamw"):
        mlpkit.fit(StackedMLP(2, 6, [8], 2), "cross_entropy", train, epochs=1, optimizer="rmsprop")
    with pytest.raises(ConfigError, match="cross-entropy or mean squared error"):
        mlpkit.fit(StackedMLP(2, 6, [8], 1), "l1", (train[0], train[1].astype(np.float32)),
                   epochs=1)  # fmt: skip


def test_members_draw_their_own_batch_orders_unless_batches_are_shared(parts):
    """Two members from one seed: on shared batches they stay the same model; each drawing its
    own order (the default), they become two."""
    train, val = parts
    for batches, same in (("shared", True), ("own", False)):
        stack = StackedMLP(2, 6, [16], 2, seeds=[0, 0])
        history = mlpkit.fit(stack, "cross_entropy", train, val, **SETTINGS, member_batches=batches)
        assert torch.equal(stack.weights[0][0], stack.weights[0][1]) is same, batches
        assert 0 < history["train_accuracy"].iloc[-1] <= 1
