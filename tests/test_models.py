"""The MLP, its registry of activations, losses and optimizers."""

import numpy as np
import pytest
import torch
from sklearn.utils.class_weight import compute_class_weight
from torch import nn

import mlpkit
from mlpkit.errors import ConfigError
from mlpkit.losses import make_loss
from mlpkit.optim import make_optimizer


def test_mlp_layers_follow_the_arguments():
    model = mlpkit.MLP(10, [32, 16], 3, activation="gelu", dropout=0.1, batch_norm=True)
    kinds = [type(layer).__name__ for layer in model]
    assert kinds == [
        "Linear",
        "BatchNorm1d",
        "GELU",
        "Dropout",
        "Linear",
        "BatchNorm1d",
        "GELU",
        "Dropout",
        "Linear",
    ]
    assert model(torch.zeros(5, 10)).shape == (5, 3)
    assert "10 -> 32 -> 16 -> 3" in repr(model)


def test_no_hidden_layers_is_a_linear_model():
    model = mlpkit.MLP(4, [], 2)
    assert len(model) == 1 and isinstance(model[0], nn.Linear)


def test_rebuilding_from_arguments_gives_the_same_architecture():
    model = mlpkit.MLP(6, [8], 2, activation="tanh", dropout=0.2)
    again = mlpkit.MLP(**model.arguments())
    assert [k for k in again.state_dict()] == [k for k in model.state_dict()]


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid"])
def test_every_activation_is_available_by_name(name):
    assert mlpkit.MLP(3, [4], 1, activation=name)(torch.ones(2, 3)).shape == (2, 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"activation": "relux"}, "choose one of"),
        ({"dropout": 1.0}, "dropout"),
        ({"hidden": [0]}, "hidden layer width"),
    ],
)
def test_bad_arguments_say_what_to_do(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        mlpkit.MLP(3, **{"hidden": [4], **kwargs}, out_features=1)


def test_cross_entropy_with_label_smoothing_matches_torch():
    logits, y = torch.randn(8, 5), torch.randint(0, 5, (8,))
    ours = make_loss("cross_entropy", label_smoothing=0.1)(logits, y)
    assert ours.item() == pytest.approx(
        nn.functional.cross_entropy(logits, y, label_smoothing=0.1).item()
    )


def test_balanced_class_weights_match_sklearn():
    y = np.array([0, 0, 0, 0, 1, 1, 2])
    loss = make_loss("cross_entropy", class_weights="balanced", targets=y)
    expected = compute_class_weight("balanced", classes=np.arange(3), y=y)
    np.testing.assert_allclose(loss.weight.numpy(), expected, rtol=1e-6)


def test_bce_with_logits_takes_integer_labels():
    logits = torch.tensor([[2.0], [-1.0]])
    got = make_loss("bce_with_logits")(logits, torch.tensor([1, 0]))
    expected = nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor([[1.0], [0.0]]))
    assert got.item() == pytest.approx(expected.item())


@pytest.mark.parametrize("name", ["mse", "l1", "huber", "cross_entropy", "nll", "bce_with_logits"])
def test_every_loss_is_available_by_name(name):
    assert isinstance(make_loss(name), nn.Module)


@pytest.mark.parametrize(
    "name, cls",
    [
        ("sgd", torch.optim.SGD),
        ("adam", torch.optim.Adam),
        ("adamw", torch.optim.AdamW),
        ("rmsprop", torch.optim.RMSprop),
        ("adagrad", torch.optim.Adagrad),
        ("adadelta", torch.optim.Adadelta),
    ],
)
def test_every_optimizer_is_available_by_name(name, cls):
    optimizer = make_optimizer(name, nn.Linear(2, 1).parameters(), lr=0.1, momentum=0.9)
    assert isinstance(optimizer, cls)
    assert optimizer.param_groups[0]["lr"] == 0.1


def test_sgd_takes_nesterov_momentum_and_weight_decay():
    optimizer = make_optimizer(
        "sgd",
        nn.Linear(2, 1).parameters(),
        lr=0.1,
        momentum=0.9,
        weight_decay=1e-4,
        nesterov=True,
    )
    group = optimizer.param_groups[0]
    assert (group["momentum"], group["weight_decay"], group["nesterov"]) == (0.9, 1e-4, True)


def test_bad_optimizer_settings_name_the_value():
    with pytest.raises(ConfigError, match="lr must be positive"):
        make_optimizer("sgd", nn.Linear(2, 1).parameters(), lr=-1.0)
    with pytest.raises(ConfigError, match="nesterov needs momentum"):
        make_optimizer("sgd", nn.Linear(2, 1).parameters(), lr=0.1, nesterov=True)


def test_a_registry_entry_is_all_it_takes_to_add_an_activation():
    mlpkit.ACTIVATIONS.add("softsign_test", nn.Softsign)
    model = mlpkit.MLP(2, [3], 1, activation="softsign_test")
    assert isinstance(model[1], nn.Softsign)


def test_an_mlp_takes_one_activation_per_hidden_layer():
    model = mlpkit.MLP(4, [8, 6], 2, activation=["relu", "tanh"])
    kinds = [type(layer).__name__ for layer in model]
    assert kinds == ["Linear", "ReLU", "Linear", "Tanh", "Linear"]
    again = mlpkit.MLP(**model.arguments())
    assert [type(a) for a in again] == [type(b) for b in model]
    with pytest.raises(ConfigError, match="a name .* or a list of one name per hidden layer"):
        mlpkit.MLP(4, [8], 2, activation=3)


def test_slicing_an_mlp_gives_its_layers_as_a_sequential():
    model = mlpkit.MLP(4, [8, 6], 2)
    first = model[:2]
    assert type(first) is nn.Sequential and list(first) == list(model)[:2]
    x = torch.randn(3, 4)
    assert torch.equal(first(x), model[1](model[0](x)))
    assert model[-1] is list(model)[-1]
