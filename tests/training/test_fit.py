"""The training loop through its public entry point, fit."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_moons
from sklearn.linear_model import LinearRegression
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import mlpkit
from mlpkit.errors import ConfigError, DataError, TrainingError
from mlpkit.training.fused.step import torch_problem
from samples import classes


def test_overfits_one_batch():
    X = torch.randn(16, 5)
    y = torch.arange(16) % 4
    model = mlpkit.MLP(5, [64], 4)
    history = mlpkit.fit(
        model,
        "cross_entropy",
        (X, y),
        epochs=200,
        batch_size=16,
        optimizer="adam",
        lr=0.01,
        label_smoothing=0.0,  # smoothed labels keep the loss of a perfect fit above 0
        metrics=["accuracy"],
        device="cpu",
    )
    assert history["train_loss"].iloc[-1] < 0.01
    assert history["train_accuracy"].iloc[-1] == 1.0


def test_history_has_one_row_per_epoch_and_the_documented_columns(blobs):
    X, y = blobs
    history = mlpkit.fit(
        mlpkit.MLP(4, [8], 3),
        "cross_entropy",
        (X[:200], y[:200]),
        (X[200:], y[200:]),
        epochs=3,
        lr=0.1,
        metrics=["accuracy", "f1"],
        device="cpu",
    )
    assert isinstance(history, pd.DataFrame)
    assert list(history.columns) == [
        "epoch",
        "total_time",
        "train_loss",
        "val_loss",
        "train_accuracy",
        "train_f1",
        "val_accuracy",
        "val_f1",
    ]
    assert history["epoch"].tolist() == [1, 2, 3]
    assert history["total_time"].is_monotonic_increasing
    # mlpkit's MLP with cross-entropy and Adam is what the fused step covers, on the torch
    # release it is tested with (elsewhere fit says why it took autograd).
    assert history.attrs["step"] == ("fused" if torch_problem() is None else "autograd")


def test_validation_loss_and_metrics_equal_evaluate_in_eval_mode(blobs):
    X, y = blobs
    model = mlpkit.MLP(4, [16], 3, dropout=0.5)
    history = mlpkit.fit(
        model,
        "cross_entropy",
        (X[:200], y[:200]),
        (X[200:], y[200:]),
        epochs=2,
        lr=0.1,
        metrics=["accuracy"],
        device="cpu",
        label_smoothing=0.1,
        restore_best=False,  # the last epoch's weights, which the last row measured
    )
    smoothed = mlpkit.make_loss("cross_entropy", label_smoothing=0.1)
    again = mlpkit.evaluate(model, (X[200:], y[200:]), ["accuracy"], loss=smoothed)
    # Dropout is off in evaluation, so evaluating again gives the same numbers.
    assert history["val_loss"].iloc[-1] == pytest.approx(again["loss"], rel=1e-5)
    assert history["val_accuracy"].iloc[-1] == pytest.approx(again["accuracy"])
    assert model.training  # fit leaves the model as evaluation found it


@pytest.mark.parametrize("form", ["arrays", "tensors", "dataset", "dataloader", "custom_dataset"])
def test_fit_takes_arrays_tensors_datasets_and_loaders(blobs, form):
    X, y = blobs

    class Pairs(torch.utils.data.Dataset):
        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return torch.tensor(X[i]), torch.tensor(y[i])

    data = {
        "arrays": (X, y),
        "tensors": (torch.tensor(X), torch.tensor(y)),
        "dataset": TensorDataset(torch.tensor(X), torch.tensor(y)),
        "dataloader": DataLoader(
            TensorDataset(torch.tensor(X), torch.tensor(y)), batch_size=32, shuffle=True
        ),
        "custom_dataset": Pairs(),
    }[form]
    history = mlpkit.fit(
        mlpkit.MLP(4, [16], 3),
        "cross_entropy",
        data,
        epochs=5,
        lr=0.1,
        momentum=0.9,
        metrics=["accuracy"],
        device="cpu",
    )
    assert history["train_accuracy"].iloc[-1] > 0.95


def test_moons_classification_reaches_high_accuracy():
    X, y = make_moons(n_samples=1000, noise=0.1, random_state=0)
    model = mlpkit.MLP(2, [32, 32], 2, activation="tanh")
    mlpkit.fit(
        model,
        "cross_entropy",
        (X[:800], y[:800]),
        epochs=40,
        optimizer="adam",
        lr=0.01,
        device="cpu",
    )
    assert mlpkit.evaluate(model, (X[800:], y[800:]), ["accuracy"])["accuracy"] > 0.97


def test_tanh_mlp_beats_a_linear_model_on_the_noisy_1d_regression():
    from mlpkit.data.builtin import toy_regression

    data = toy_regression(n_samples=400, seed=0)
    X = (data.X - data.X.mean()) / data.X.std()
    linear = LinearRegression().fit(X, data.y)
    linear_mse = float(np.mean((linear.predict(X) - data.y) ** 2))
    model = mlpkit.MLP(1, [32, 32], 1, activation="tanh")
    mlpkit.fit(
        model,
        "mse",
        (X, data.y),
        epochs=150,
        batch_size=32,
        optimizer="adam",
        lr=0.01,
        device="cpu",
    )
    mse = mlpkit.evaluate(model, (X, data.y), ["mse"])["mse"]
    assert mse < 0.6 * linear_mse  # the sine is learned; a line cannot follow it


def test_linear_regression_without_hidden_layers_finds_the_weights(linear_regression_data):
    X, y, w = linear_regression_data
    model = mlpkit.MLP(3, [], 1)
    mlpkit.fit(model, "mse", (X, y), epochs=60, lr=0.05, device="cpu")
    np.testing.assert_allclose(model[0].weight.detach().numpy()[0], w, atol=0.05)
    assert model[0].bias.item() == pytest.approx(1.0, abs=0.05)


class TwoInputs(nn.Module):
    """A Wide & Deep-style model taking named inputs."""

    def __init__(self):
        super().__init__()
        self.deep = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 8))
        self.head = nn.Linear(8 + 2, 1)

    def forward(self, wide, deep):
        return self.head(torch.cat([wide, self.deep(deep)], dim=1))


def test_two_input_model_fed_dict_batches_by_keyword():
    rng = np.random.default_rng(0)
    wide = rng.normal(size=(300, 2)).astype(np.float32)
    deep = rng.normal(size=(300, 3)).astype(np.float32)
    y = (wide[:, 0] + np.sin(deep[:, 1]) * 2).astype(np.float32)
    model = TwoInputs()
    inputs = {"wide": wide, "deep": deep}
    history = mlpkit.fit(
        model,
        "mse",
        (inputs, y),
        epochs=60,
        optimizer="adam",
        lr=0.01,
        metrics=["r2"],
        device="cpu",
    )
    assert history["train_r2"].iloc[-1] > 0.9
    assert mlpkit.evaluate(model, (inputs, y), ["r2"])["r2"] > 0.9


class TwoOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 16), nn.ReLU())
        self.main, self.aux = nn.Linear(16, 1), nn.Linear(16, 1)

    def forward(self, x):
        hidden = self.body(x)
        return self.main(hidden), self.aux(hidden)


def test_two_output_model_with_weighted_losses(linear_regression_data):
    X3, y, _ = linear_regression_data
    X = np.concatenate([X3, np.ones((len(X3), 1), np.float32)], axis=1)
    model = TwoOutputs()
    before = [p.clone() for p in model.parameters()]
    history = mlpkit.fit(
        model,
        ["mse", "mse"],
        (X, (y, y * 2)),
        epochs=30,
        optimizer="adam",
        lr=0.01,
        loss_weights=[0.9, 0.1],
        metrics=["r2"],
        device="cpu",
    )
    assert history["train_r2"].iloc[-1] > 0.9  # metrics are reported on the first output
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    # The reported loss is the weighted sum of the two outputs' losses.
    main, aux = model(torch.tensor(X))
    yt = torch.tensor(y).unsqueeze(1)
    expected = 0.9 * nn.functional.mse_loss(main, yt) + 0.1 * nn.functional.mse_loss(aux, 2 * yt)
    loss = mlpkit.evaluate(
        model, (X, (y, y * 2)), loss=mlpkit.WeightedLoss([nn.MSELoss(), nn.MSELoss()], [0.9, 0.1])
    )["loss"]
    assert loss == pytest.approx(expected.item(), rel=1e-4)


def test_same_seed_same_history(blobs):
    X, y = blobs

    def run():
        torch.manual_seed(1)
        model = mlpkit.MLP(4, [16], 3, dropout=0.2)
        return mlpkit.fit(model, "cross_entropy", (X, y), epochs=3, lr=0.1, seed=5, device="cpu")

    a, b = run(), run()
    pd.testing.assert_series_equal(a["train_loss"], b["train_loss"])


def test_labels_out_of_range_for_the_output_size_are_refused_before_training(blobs):
    X, y = blobs
    with pytest.raises(DataError, match=r"labels must be in \[0, 2\)"):
        mlpkit.fit(mlpkit.MLP(4, [8], 2), "cross_entropy", (X, y), epochs=1, device="cpu")


def test_wrong_feature_count_is_refused_with_the_shapes(blobs):
    X, y = blobs
    with pytest.raises(DataError, match="input features"):
        mlpkit.fit(mlpkit.MLP(7, [8], 3), "cross_entropy", (X, y), epochs=1, device="cpu")


def test_x_and_y_of_different_lengths_are_refused(blobs):
    X, y = blobs
    with pytest.raises(DataError, match="different numbers of rows"):
        mlpkit.fit(mlpkit.MLP(4, [8], 3), "cross_entropy", (X, y[:-1]), epochs=1, device="cpu")


def test_unknown_names_list_the_choices(blobs):
    X, y = blobs
    with pytest.raises(ConfigError, match="adam"):
        mlpkit.fit(mlpkit.MLP(4, [8], 3), "cross_entropy", (X, y), optimizer="adma", device="cpu")
    with pytest.raises(ConfigError, match="cross_entropy"):
        mlpkit.fit(mlpkit.MLP(4, [8], 3), "crossentropy", (X, y), device="cpu")


def test_a_diverging_run_stops_with_the_epoch_and_step(blobs):
    X, y = blobs
    X = X * 1e30
    with pytest.raises(TrainingError, match=r"epoch 1, step \d+"):
        mlpkit.fit(
            mlpkit.MLP(4, [8], 3),
            "cross_entropy",
            (X, y),
            epochs=2,
            optimizer="sgd",
            lr=10.0,
            device="cpu",
        )


def test_the_running_loss_of_an_epoch_ends_at_its_train_loss():
    from mlpkit.callbacks import Callback

    class Running(Callback):
        def __init__(self) -> None:
            self.seen: list[float] = []

        def on_batch_end(self, state) -> None:
            if state.step == state.steps_per_epoch:
                self.seen.append(state.running_loss())

    running = Running()
    X, y = classes(n=100)  # 32 + 32 + 32 + 4: the last batch weighs less
    model = mlpkit.MLP(6, [8], 3)
    history = mlpkit.fit(model, "cross_entropy", (X, y), epochs=3, lr=0.1, callbacks=[running])
    assert running.seen == pytest.approx(history["train_loss"].tolist(), rel=1e-6)


def test_nesterov_momentum_reaches_the_sgd_optimizer(blobs):
    seen = []

    class Groups(mlpkit.Callback):
        def on_fit_start(self, state) -> None:
            seen.append(state.optimizer.param_groups[0]["nesterov"])

    for nesterov in (True, False):
        mlpkit.fit(
            mlpkit.MLP(4, [8], 3), "cross_entropy", blobs, epochs=1, optimizer="sgd",
            momentum=0.9, nesterov=nesterov, callbacks=[Groups()],
        )  # fmt: skip
    assert seen == [True, False]
    with pytest.raises(ConfigError, match="nesterov needs momentum > 0"):
        mlpkit.fit(mlpkit.MLP(4, [8], 3), "cross_entropy", blobs, optimizer="sgd", nesterov=True)


def test_cross_entropy_takes_float_labels_of_shape_n_1_as_class_indices(blobs):
    X, y = blobs
    runs = []
    for labels in (y, y.astype(np.float32).reshape(-1, 1)):
        torch.manual_seed(0)
        model = mlpkit.MLP(4, [8], 3)
        runs.append(mlpkit.fit(model, "cross_entropy", (X, labels), (X, labels), epochs=2))
    pd.testing.assert_frame_equal(runs[0].drop(columns="total_time"),
                                  runs[1].drop(columns="total_time"))  # fmt: skip
    with pytest.raises(DataError, match="class indices, but the labels are real numbers"):
        mlpkit.fit(mlpkit.MLP(4, [8], 3), "cross_entropy", (X, y.reshape(-1, 1) + 0.5))


def test_batch_norm_drops_a_last_training_batch_of_one_row(caplog):
    X, y = classes(n=33)
    model = mlpkit.MLP(6, [8], 3, batch_norm=True)
    with caplog.at_level("WARNING"):
        history = mlpkit.fit(model, "cross_entropy", (X, y), epochs=2, batch_size=16, lr=0.01)
    assert np.isfinite(history["train_loss"]).all()
    assert "BatchNorm cannot normalise" in caplog.text
    with pytest.raises(ConfigError, match="BatchNorm cannot train on batches of one row"):
        mlpkit.fit(mlpkit.MLP(6, [8], 3, batch_norm=True), "cross_entropy", (X, y), batch_size=1)


def test_monitoring_an_unknown_column_lists_the_names_and_does_not_blame_validation():
    X, y = classes()
    with pytest.raises(ConfigError) as info:
        model = mlpkit.MLP(6, [8], 3)
        mlpkit.fit(model, "cross_entropy", (X, y), (X, y), monitor="val_foo", early_stopping=2)
    message = str(info.value)
    assert "cannot monitor 'val_foo'; monitor one of: train_loss, val_loss" in message
    assert "no validation data" not in message
