"""Models: the MLP (linear/logistic regression when it has no hidden layers) and its parts."""

from __future__ import annotations

from collections import OrderedDict
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
ACTIVATIONS.add("selu", nn.SELU)
ACTIVATIONS.add("mish", nn.Mish)
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
        log_softmax: bool = False,
    ) -> None:
        _check_positive("out_features", out_features)
        check_fits_memory([in_features, *hidden, out_features])
        layers = hidden_layers(in_features, hidden, activation, dropout, batch_norm)
        width_in = hidden[-1] if hidden else in_features
        layers.append(nn.Linear(width_in, out_features))
        if log_softmax:  # the head an nll loss needs: log-probabilities
            layers.append(nn.LogSoftmax(dim=1))
        super().__init__(*layers)
        self.log_softmax = log_softmax
        self.in_features = in_features
        self.hidden = list(hidden)
        self.out_features = out_features
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm

    def __getitem__(self, index: int | slice) -> nn.Module:
        # A slice of layers is not an MLP (it may end in an activation): an nn.Sequential of
        # them, with the same keys, as slicing any nn.Sequential gives.
        if isinstance(index, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[index]))
        return super().__getitem__(index)

    def arguments(self) -> dict[str, Any]:
        """The constructor arguments, enough to build the same architecture again."""
        return {
            "in_features": self.in_features,
            "hidden": list(self.hidden),
            "out_features": self.out_features,
            "activation": self.activation,
            "dropout": self.dropout,
            "batch_norm": self.batch_norm,
            "log_softmax": self.log_softmax,
        }

    def reset_parameters(self) -> None:
        for layer in self:
            if hasattr(layer, "reset_parameters"):
                layer.reset_parameters()

    def extra_repr(self) -> str:
        sizes = " -> ".join(str(s) for s in [self.in_features, *self.hidden, self.out_features])
        return f"{sizes}, activation={self.activation}"


class WideAndDeep(nn.Module):
    """Wide & Deep (Cheng et al., 2016), as in the reference chapters: the wide inputs skip the
    hidden layers and meet the deep part's output at the output layer.

    ``forward(wide, deep=None)`` takes the two inputs by name, as batches of named input groups
    pass them (``model(wide=..., deep=...)``); without ``deep``, the same features go through
    both paths. With ``aux_output=True`` the deep part also predicts on its own, and ``forward``
    returns ``(main, auxiliary)``: training both regularises the deep part, and metrics and
    predictions use the main output.

    >>> model = WideAndDeep(5, 6, [50, 40], 1, aux_output=True)
    >>> [o.shape for o in model(torch.zeros(2, 5), torch.zeros(2, 6))]
    [torch.Size([2, 1]), torch.Size([2, 1])]
    """

    def __init__(
        self,
        wide_features: int,
        deep_features: int | None = None,
        hidden: Sequence[int] = (50, 40),
        out_features: int = 1,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        aux_output: bool = False,
        log_softmax: bool = False,
    ) -> None:
        super().__init__()
        _check_positive("out_features", out_features)
        if not hidden:
            raise ConfigError(
                "a Wide & Deep model needs at least one hidden layer in its deep part; "
                "give hidden widths such as 50,40"
            )
        deep_features = wide_features if deep_features is None else deep_features
        _check_positive("wide_features", wide_features)
        check_fits_memory([deep_features, *hidden, out_features], extra=wide_features)
        self.deep = nn.Sequential(
            *hidden_layers(deep_features, hidden, activation, dropout, batch_norm)
        )
        self.output = nn.Linear(wide_features + hidden[-1], out_features)
        self.aux = nn.Linear(hidden[-1], out_features) if aux_output else None
        self.wide_features = wide_features
        self.deep_features = deep_features
        self.hidden = list(hidden)
        self.out_features = out_features
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.aux_output = aux_output
        self.log_softmax = log_softmax
        self.head = nn.LogSoftmax(dim=1) if log_softmax else nn.Identity()

    def forward(
        self, wide: torch.Tensor, deep: torch.Tensor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        deep_out = self.deep(wide if deep is None else deep)
        main = self.head(self.output(torch.cat([wide, deep_out], dim=1)))
        return main if self.aux is None else (main, self.head(self.aux(deep_out)))

    def arguments(self) -> dict[str, Any]:
        """The constructor arguments, enough to build the same architecture again."""
        return {
            "wide_features": self.wide_features,
            "deep_features": self.deep_features,
            "hidden": list(self.hidden),
            "out_features": self.out_features,
            "activation": self.activation,
            "dropout": self.dropout,
            "batch_norm": self.batch_norm,
            "aux_output": self.aux_output,
            "log_softmax": self.log_softmax,
        }

    def extra_repr(self) -> str:
        deep = " -> ".join(str(s) for s in [self.deep_features, *self.hidden])
        aux = ", auxiliary output" if self.aux_output else ""
        return f"wide {self.wide_features}, deep {deep}, out {self.out_features}{aux}"


ARCHITECTURES: dict[str, type[nn.Module]] = {"MLP": MLP, "WideAndDeep": WideAndDeep}


def hidden_layers(
    in_features: int,
    hidden: Sequence[int],
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> list[nn.Module]:
    """``[Linear, (BatchNorm), activation, (Dropout)]`` for each width in ``hidden``, checked.

    ``activation`` is one name for every hidden layer, or a list of one name per hidden layer.
    """
    _check_positive("in_features", in_features)
    for width in hidden:
        _check_positive("hidden layer width", width)
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}; use e.g. 0.2")
    names = _activations(activation, len(hidden))
    layers: list[nn.Module] = []
    width_in = in_features
    for width, name in zip(hidden, names, strict=True):
        layers.append(nn.Linear(width_in, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(ACTIVATIONS.get(name)())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width_in = width
    return layers


def _activations(activation: str | Sequence[str], layers: int) -> list[str]:
    """One activation name per hidden layer, from one name or a list of them."""
    if isinstance(activation, str):
        return [activation] * layers
    if isinstance(activation, (list, tuple)) and all(isinstance(a, str) for a in activation):
        if len(activation) != layers:
            raise ConfigError(
                f"got {len(activation)} activations for {layers} hidden layers; give one name "
                "for all of them, or one per hidden layer"
            )
        return list(activation)
    raise ConfigError(
        f"activation is a name (e.g. 'relu') or a list of one name per hidden layer, "
        f"got {activation!r}"
    )


def check_fits_memory(widths: Sequence[int], extra: int = 0) -> None:
    """Refuse layer widths whose weights alone would not fit in this machine's memory (torch
    would fail in its allocator, or the machine swap for hours)."""
    from .devices import physical_memory

    if not all(isinstance(w, int) and w > 0 for w in [*widths, extra or 1]):
        return  # the width checks say what is wrong
    layers = zip(widths, widths[1:], strict=False)
    parameters = sum(a * b + b for a, b in layers) + extra * widths[-1]
    limit = physical_memory()
    if limit is not None and parameters * 4 > limit:
        raise ConfigError(
            f"layers of widths {' -> '.join(map(str, widths))} have {parameters:.3g} parameters, "
            f"which need {parameters * 4 / 1e9:.3g} GB for the weights alone, more than this "
            f"machine's {limit / 1e9:.3g} GB of memory; choose smaller hidden widths"
        )


def _check_positive(what: str, value: int) -> None:
    if not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} must be a positive whole number, got {value!r}")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def example_input(model: MLP, batch: int = 1) -> torch.Tensor:
    """A zero batch of the right shape, for tracing and export."""
    return torch.zeros(batch, model.in_features)
