"""RealMLP (Holzmüller et al., 2024, "Better by default"): the MLP of the RealMLP-TD recipe.

It takes the float matrix mlpkit's preprocessing writes (robust scaling with smooth clipping
already applied) and adds, in the network:

- PBLD numerical embeddings for the numeric columns: per column ``cos(2 pi w x + b)`` of 16
  frequencies mapped linearly to 3 values, beside the column itself (4 inputs per column);
- a learned embedding of 8 values for each categorical column with more than 8 levels (its
  one-hot block times a learned matrix, which is the embedding lookup), smaller ones one-hot;
- a learnable scale per input of the first layer ("front scale");
- layers in the NTK parametrization (``x @ W / sqrt(fan_in)``, W initialised so that each
  output has unit spread on the first training batch, biases "he+5": minus a random convex
  combination of 5 of that batch's outputs), parametric activations ``x + a * (f(x) - x)``;
- for regression, outputs clamped to the training targets' range when predicting.

Each parameter kind has RealMLP's learning-rate and weight-decay factors (``param_groups``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..models import ACTIVATIONS, ARCHITECTURES, check_fits_memory

# RealMLP-TD's factors per parameter kind: (learning rate, effective weight decay), both relative
# to the run's. The decay factor is pytabkit's, where a parameter's factors enter the decay
# squared (its issue 40): a scale with learning-rate factor 6 decays 36 times as fast.
# The weights first: the history's lr column is the first group's.
FACTORS = {
    "weight": (1.0, 1.0),
    "embedding": (0.1, 0.01),  # the PBLD embeddings
    "categories": (1.0, 1.0),
    "scale": (6.0, 36.0),
    "bias": (0.1, 0.0),
    "activation": (0.1, 0.01),
}


class PBLD(nn.Module):
    """Periodic numerical embeddings (PBLD: periodic, bias, linear, densenet) of ``columns``
    numeric inputs: each column's ``cos(2 pi w x + b)`` at ``frequencies`` frequencies, mapped
    linearly to ``width - 1`` values, followed by the value itself.

    >>> PBLD(3)(torch.zeros(2, 3)).shape
    torch.Size([2, 12])
    """

    def __init__(self, columns: int, frequencies: int = 16, width: int = 4, sigma: float = 0.1):
        super().__init__()
        self.columns, self.frequencies, self.width, self.sigma = columns, frequencies, width, sigma
        self.frequency = nn.Parameter(torch.empty(columns, 1, frequencies))
        self.phase = nn.Parameter(torch.empty(columns, 1, frequencies))
        self.weight = nn.Parameter(torch.empty(columns, frequencies, width - 1))
        self.bias = nn.Parameter(torch.empty(columns, 1, width - 1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.frequency.normal_(0.0, self.sigma)
            self.phase.uniform_(-math.pi, math.pi)
            bound = 1.0 / math.sqrt(self.frequencies)
            self.weight.uniform_(-bound, bound)
            self.bias.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.t().unsqueeze(-1)  # (columns, batch, 1): each column its own small network
        z = torch.cos(2 * math.pi * z @ self.frequency + self.phase) @ self.weight + self.bias
        return torch.cat([z.transpose(0, 1).flatten(1), x], dim=1)

    def extra_repr(self) -> str:
        return f"{self.columns} columns, {self.frequencies} frequencies -> {self.width} each"


class NTKLinear(nn.Module):
    """``x @ W / sqrt(in) + b``: the NTK parametrization, with RealMLP's data-dependent start
    (``initialize``): unit output spread on a batch, and "he+5" biases."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, x, self.weight / math.sqrt(self.in_features))

    @torch.no_grad()
    def initialize(self, x: torch.Tensor) -> None:
        weight = torch.randn_like(self.weight)
        spread = (x @ (weight / math.sqrt(self.in_features))).std(dim=0, correction=0)
        self.weight.copy_(weight / spread.clamp(min=1e-30))
        out = x @ (self.weight / math.sqrt(self.in_features))
        # he+5: minus a random convex combination of 5 of the batch's values, per output.
        rows = torch.randint(0, len(x), (self.out_features, 5), device=x.device)
        mix = torch.distributions.Exponential(1.0).sample((self.out_features, 5)).to(x)
        mix = mix / mix.sum(dim=1, keepdim=True)
        picked = out.t().gather(1, rows)
        self.bias.copy_(-(picked * mix).sum(dim=1))

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, NTK"


class ParametricActivation(nn.Module):
    """``x + a * (f(x) - x)`` with one learned ``a`` per feature, starting at 1 (``f`` itself)."""

    def __init__(self, name: str, features: int) -> None:
        super().__init__()
        self.name = name
        self.f = ACTIVATIONS.get(name)()
        self.mix = nn.Parameter(torch.ones(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + (self.f(x) - x) * self.mix


class CategoryEmbedding(nn.Module):
    """A categorical column's learned embedding, from its one-hot block ``x[:, start:start +
    width]`` (the block times the table is the lookup; all zeros, an unseen category, gives 0).
    """

    def __init__(self, start: int, width: int, size: int = 8) -> None:
        super().__init__()
        self.start, self.width = start, width
        self.table = nn.Parameter(torch.randn(width, size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.start : self.start + self.width] @ self.table


class RealMLP(nn.Module):
    """RealMLP on mlpkit's preprocessed inputs (see the module docstring).

    ``numeric`` are the input positions of numeric columns (PBLD embeddings; the others, such
    as missing-value indicators and small one-hot blocks, go in as they are); ``embedded`` the
    ``(start, width)`` one-hot blocks of categorical columns that get a learned embedding of
    ``embedding_size`` values; ``output_range`` the ``(low, high)`` of each output that
    predictions are clamped to (regression).

    >>> model = RealMLP(5, [16, 16], 2, numeric=[0, 1], embedded=[(2, 3)])
    >>> model(torch.zeros(4, 5)).shape
    torch.Size([4, 2])
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] = (256, 256, 256),
        out_features: int = 1,
        activation: str = "selu",
        dropout: float = 0.15,
        numeric: Sequence[int] | None = None,
        embedded: Sequence[Sequence[int]] = (),
        output_range: Sequence[Sequence[float]] | None = None,
        embedding_size: int = 8,
        log_softmax: bool = False,
    ) -> None:
        super().__init__()
        if not hidden:
            raise ConfigError("a RealMLP needs hidden layers; give widths such as 256,256,256")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout}; use e.g. 0.15")
        numeric = list(range(in_features)) if numeric is None else [int(i) for i in numeric]
        embedded = [(int(start), int(width)) for start, width in embedded]
        taken = set(numeric) | {i for s, w in embedded for i in range(s, s + w)}
        if any(not 0 <= i < in_features for i in taken):
            raise ConfigError(f"input positions beyond the model's {in_features} inputs")
        others = [i for i in range(in_features) if i not in taken]
        self.register_buffer("numeric", torch.tensor(numeric, dtype=torch.long))
        self.register_buffer("others", torch.tensor(others, dtype=torch.long))
        self.pbld = PBLD(len(numeric)) if numeric else None
        self.embeddings = nn.ModuleList(
            CategoryEmbedding(start, width, embedding_size) for start, width in embedded
        )
        width_in = (self.pbld.width * len(numeric) if numeric else 0) + len(others)
        width_in += embedding_size * len(embedded)
        check_fits_memory([width_in, *hidden, out_features])
        self.scale = nn.Parameter(torch.ones(width_in))
        layers: list[nn.Module] = []
        for width_out in hidden:
            layers += [NTKLinear(width_in, width_out), ParametricActivation(activation, width_out)]
            layers.append(nn.Dropout(dropout))
            width_in = width_out
        layers.append(NTKLinear(width_in, out_features))
        self.layers = nn.Sequential(*layers)
        # A regression's clamp; none is empty, not infinite (the weights' checks see buffers).
        low, high = zip(*output_range, strict=True) if output_range else ((), ())
        self.register_buffer("low", torch.tensor(low, dtype=torch.float32))
        self.register_buffer("high", torch.tensor(high, dtype=torch.float32))
        # Set by the first training batch (``initialize``), and saved: a loaded model keeps its.
        self.register_buffer("initialized", torch.tensor(False))
        self.in_features, self.hidden, self.out_features = in_features, list(hidden), out_features
        self.activation, self.dropout, self.embedded = activation, dropout, embedded
        self.output_range = [list(r) for r in output_range] if output_range else None
        self.embedding_size, self.log_softmax = embedding_size, log_softmax
        self.head = nn.LogSoftmax(dim=1) if log_softmax else nn.Identity()

    def front(self, x: torch.Tensor) -> torch.Tensor:
        """The first layer's inputs: embeddings, the other inputs, all scaled."""
        parts = [] if self.pbld is None else [self.pbld(x.index_select(1, self.numeric))]
        parts.append(x.index_select(1, self.others))
        for embedding in self.embeddings:
            parts.append(embedding(x))
        return torch.cat(parts, dim=1) * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and not bool(self.initialized):
            self.initialize(x)
        out = self.layers(self.front(x))
        if not self.training and self.low.numel() > 0:  # a range to clamp to
            out = torch.minimum(torch.maximum(out, self.low), self.high)
        return self.head(out)

    @torch.jit.unused  # training only: a scripted model predicts
    def initialize(self, x):  # no annotation: TorchScript cannot read string annotations here
        """RealMLP's data-dependent start from a training batch ``x``, layer by layer."""
        with torch.no_grad():
            h = self.front(x)
            for layer in self.layers:
                if isinstance(layer, NTKLinear):
                    layer.initialize(h)
                h = layer(h)
            self.initialized.fill_(True)

    def param_groups(self, lr: float, weight_decay: float) -> list[dict[str, Any]]:
        """Optimizer parameter groups with RealMLP's learning-rate and weight-decay factors
        (torch's AdamW decays by the group's lr times its weight_decay)."""
        kinds: dict[str, list[nn.Parameter]] = {kind: [] for kind in FACTORS}
        if self.pbld is not None:
            kinds["embedding"] += list(self.pbld.parameters())
        kinds["categories"] += list(self.embeddings.parameters())
        kinds["scale"].append(self.scale)
        for layer in self.layers:
            if isinstance(layer, NTKLinear):
                kinds["weight"].append(layer.weight)
                kinds["bias"].append(layer.bias)
            elif isinstance(layer, ParametricActivation):
                kinds["activation"].append(layer.mix)
        groups = []
        for kind, params in kinds.items():
            lr_factor, decay = FACTORS[kind]
            if params:
                groups.append(
                    dict(
                        params=params,
                        lr=lr * lr_factor,
                        weight_decay=weight_decay * decay / lr_factor,
                        kind=kind,
                    )
                )
        return groups

    def arguments(self) -> dict[str, Any]:
        """The constructor arguments, enough to build the same architecture again."""
        return {
            "in_features": self.in_features,
            "hidden": list(self.hidden),
            "out_features": self.out_features,
            "activation": self.activation,
            "dropout": self.dropout,
            "numeric": self.numeric.tolist(),
            "embedded": [list(block) for block in self.embedded],
            "output_range": self.output_range,
            "embedding_size": self.embedding_size,
            "log_softmax": self.log_softmax,
        }

    def extra_repr(self) -> str:
        sizes = " -> ".join(str(s) for s in [self.in_features, *self.hidden, self.out_features])
        return f"{sizes}, activation={self.activation}, {len(self.embedded)} embedded columns"


ARCHITECTURES["RealMLP"] = RealMLP  # type: ignore[assignment]
