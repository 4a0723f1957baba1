"""Models: the MLP (linear/logistic regression when it has no hidden layers) and its parts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .errors import ConfigError
from .registry import Registry

ACTIVATIONS: Registry[nn.Module] = Registry("activation")
ACTIVATIONS.add("relu", nn.ReLU)
ACTIVATIONS.add("leaky_relu", nn.LeakyReLU)
ACTIVATIONS.add("elu", nn.ELU)
ACTIVATIONS.add("gelu", nn.GELU)
ACTIVATIONS.add("silu", nn.SiLU)
ACTIVATIONS.add("tanh", nn.Tanh)
ACTIVATIONS.add("sigmoid", nn.Sigmoid)


class MLP(nn.Sequential):
    """A fully-connected network: ``[Linear, (BatchNorm), activation, (Dropout)] * n, Linear``.

    With ``hidden=[]`` it is linear regression (or logistic regression with a cross-entropy loss).
    Being an ``nn.Sequential``, its layers are indexable and its state dict keys are stable
    (``0.weight``, ``0.bias``, ...), which saved models rely on.

    >>> model = MLP(4, [16, 8], 3, activation="tanh", dropout=0.1)
    >>> model(torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] = (),
        out_features: int = 1,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        _check_positive("in_features", in_features)
        _check_positive("out_features", out_features)
        for width in hidden:
            _check_positive("hidden layer width", width)
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout}; use e.g. 0.2")
        make_activation = ACTIVATIONS.get(activation)
        layers: list[nn.Module] = []
        width_in = in_features
        for width in hidden:
            layers.append(nn.Linear(width_in, width))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(make_activation())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width_in = width
        layers.append(nn.Linear(width_in, out_features))
        super().__init__(*layers)
        self.in_features = in_features
        self.hidden = list(hidden)
        self.out_features = out_features
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm

    def arguments(self) -> dict[str, Any]:
        """The constructor arguments, enough to build the same architecture again."""
        return {
            "in_features": self.in_features,
            "hidden": list(self.hidden),
            "out_features": self.out_features,
            "activation": self.activation,
            "dropout": self.dropout,
            "batch_norm": self.batch_norm,
        }

    def reset_parameters(self) -> None:
        for layer in self:
            if hasattr(layer, "reset_parameters"):
                layer.reset_parameters()

    def extra_repr(self) -> str:
        sizes = " -> ".join(str(s) for s in [self.in_features, *self.hidden, self.out_features])
        return f"{sizes}, activation={self.activation}"


def _check_positive(what: str, value: int) -> None:
    if not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} must be a positive whole number, got {value!r}")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def example_input(model: MLP, batch: int = 1) -> torch.Tensor:
    """A zero batch of the right shape, for tracing and export."""
    return torch.zeros(batch, model.in_features)
