"""``StackedMLP``: K independent MLPs of one shape, held in stacked tensors and run together.

A small MLP leaves most of a CPU core idle: its matrix products are too small. Stacking K of
them, with each layer's weights in one (K, in, out) tensor, turns K small products into one
batched product (``torch.baddbmm``) that keeps the hardware busy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ConfigError, DataError
from ..models import ACTIVATIONS, MLP, check_fits_memory


class StackedMLP(nn.Module):
    """K members, each an MLP ``in -> hidden... -> out`` with its own weights, in one module.

    ``weights[i]`` has shape (K, in, out) and ``biases[i]`` (K, 1, out): member k's layer i is
    ``x @ weights[i][k] + biases[i][k]``. ``forward`` takes inputs shared by every member,
    (n, in), or one batch per member, (K, n, in), and returns (K, n, out). Member k starts from
    the weights ``mlpkit.MLP`` would have after ``torch.manual_seed(seeds[k])`` (``seeds``
    defaults to 0, 1, ..., K-1); ``member(k)`` hands it back as a plain ``MLP``.

    ``dropout`` is one rate or one per member. ``mask([k, ...])`` takes members out (they stop
    counting in the loss and stop learning); ``compact()`` drops them from the tensors, so that
    they stop costing arithmetic.

    >>> model = StackedMLP(4, 3, [16, 8], 2)
    >>> model(torch.zeros(5, 3)).shape
    torch.Size([4, 5, 2])
    >>> torch.equal(model.member(1)[0].weight, model.weights[0][1].t())
    True
    """

    def __init__(
        self,
        members: int,
        in_features: int,
        hidden: Sequence[int] = (),
        out_features: int = 1,
        activation: str = "relu",
        dropout: float | Sequence[float] | Tensor = 0.0,
        *,
        seeds: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(members, int) or isinstance(members, bool) or members < 1:
            raise ConfigError(f"members must be a positive whole number, got {members!r}")
        if not isinstance(activation, str):
            raise ConfigError(
                f"a stacked MLP takes one activation name for every layer, got {activation!r}"
            )
        widths = [in_features, *hidden, out_features]
        for what, width in zip(["in_features", *["hidden layer width"] * len(hidden),
                                "out_features"], widths, strict=True):  # fmt: skip
            if not isinstance(width, int) or isinstance(width, bool) or width < 1:
                raise ConfigError(f"{what} must be a positive whole number, got {width!r}")
        ACTIVATIONS.get(activation)  # an unknown name is refused with the known ones
        check_fits_memory(widths)
        self.weights = nn.ParameterList(
            nn.Parameter(torch.empty(members, a, b))
            for a, b in zip(widths, widths[1:], strict=False)
        )
        self.biases = nn.ParameterList(nn.Parameter(torch.empty(members, 1, b)) for b in widths[1:])
        self.register_buffer("dropout_rates", member_values("dropout", dropout, members))
        if not bool(((self.dropout_rates >= 0) & (self.dropout_rates < 1)).all()):
            raise ConfigError(f"dropout must be in [0, 1), got {dropout}; use e.g. 0.2")
        self.register_buffer("active", torch.ones(members, dtype=torch.bool))
        # Which of the members first built each position holds, as compact() drops some.
        self.register_buffer("member_ids", torch.arange(members))
        self.in_features, self.hidden, self.out_features = in_features, list(hidden), out_features
        self.activation = activation
        self.act = ACTIVATIONS.get(activation)()
        self.reset_parameters(seeds)

    @property
    def members(self) -> int:
        return self.weights[0].shape[0]

    def reset_parameters(self, seeds: Sequence[int] | None = None) -> None:
        """Member k's layers as ``nn.Linear`` initialises them, from a generator seeded
        ``seeds[k]`` (default k): the draws of ``torch.manual_seed(seeds[k]); MLP(...)``."""
        seeds = list(range(self.members)) if seeds is None else list(seeds)
        if len(seeds) != self.members:
            raise ConfigError(f"give one seed per member ({self.members}), got {len(seeds)}")
        with torch.no_grad():
            for k, seed in enumerate(seeds):
                generator = torch.Generator().manual_seed(int(seed))
                for weight, bias in zip(self.weights, self.biases, strict=True):
                    fan_in, fan_out = weight.shape[1], weight.shape[2]
                    w = torch.empty(fan_out, fan_in)
                    nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=generator)
                    bound = 1 / math.sqrt(fan_in)
                    b = torch.empty(fan_out).uniform_(-bound, bound, generator=generator)
                    weight[k].copy_(w.t())
                    bias[k, 0].copy_(b)

    def forward(self, x: Tensor) -> Tensor:
        h = self.check_inputs(x)
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(bias, h, weight)
            if i < last:
                h = self._dropout(self.act(h))
        return h

    def _dropout(self, h: Tensor) -> Tensor:
        if not self.training or not bool(self.dropout_rates.any()):
            return h
        # The calls the fused stacked step makes, so that one seed draws the same masks.
        keep = 1 - self.dropout_rates
        return h * torch.empty_like(h).bernoulli_(keep).div_(keep)

    def check_inputs(self, x: Tensor) -> Tensor:
        """``x`` as (K, n, in): shared (n, in) inputs are expanded (no copy)."""
        k, width = self.members, self.in_features
        if isinstance(x, Tensor) and x.dim() == 2 and x.shape[1] == width:
            return x.unsqueeze(0).expand(k, *x.shape)
        if isinstance(x, Tensor) and x.dim() == 3 and x.shape[0] == k and x.shape[2] == width:
            return x
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise DataError(
            f"a stacked MLP of {k} members with {width} inputs takes (n, {width}) inputs shared "
            f"by all members or ({k}, n, {width}), one batch per member; got {shape}"
        )

    # -- members -------------------------------------------------------------------------------

    def member(self, k: int) -> MLP:
        """Member ``k`` (a position, 0 to K-1) as a plain ``mlpkit.MLP`` with a copy of its
        weights."""
        if not 0 <= k < self.members:
            raise ConfigError(f"member {k} does not exist; use 0 to {self.members - 1}")
        with torch.random.fork_rng(devices=[]):  # its throwaway initial draws leave no trace
            mlp = MLP(self.in_features, self.hidden, self.out_features, self.activation,
                      float(self.dropout_rates[k]))  # fmt: skip
        linears = [m for m in mlp if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for linear, weight, bias in zip(linears, self.weights, self.biases, strict=True):
                linear.weight.copy_(weight[k].t())
                linear.bias.copy_(bias[k, 0])
        return mlp.to(self.weights[0].device)

    @classmethod
    def from_members(cls, mlps: Sequence[MLP]) -> StackedMLP:
        """One stack of the given ``mlpkit.MLP``s, which must share one shape and activation
        (each keeps its own dropout rate)."""
        if not mlps:
            raise ConfigError("give at least one MLP to stack")
        first = mlps[0]
        for i, mlp in enumerate(mlps):
            problem = _stack_problem(mlp, first)
            if problem is not None:
                raise ConfigError(f"MLP {i} cannot join the stack: {problem}")
        stack = cls(len(mlps), first.in_features, first.hidden, first.out_features,
                    first.activation, [m.dropout for m in mlps])  # fmt: skip
        with torch.no_grad():
            for k, mlp in enumerate(mlps):
                linears = [m for m in mlp if isinstance(m, nn.Linear)]
                for linear, weight, bias in zip(linears, stack.weights, stack.biases, strict=True):
                    weight[k].copy_(linear.weight.t())
                    bias[k, 0].copy_(linear.bias)
        return stack.to(first[0].weight.device)

    def mask(self, members: Sequence[int]) -> None:
        """Take the members at these positions out: they stop counting in the training loss
        and in predictions, and the stacked optimizers stop updating them."""
        for k in members:
            if not 0 <= k < self.members:
                raise ConfigError(f"member {k} does not exist; use 0 to {self.members - 1}")
        self.active[list(members)] = False

    def compact(self) -> Tensor:
        """Drop the masked members from every tensor; returns the positions kept (for
        ``StackedOptimizer.compact``; ``StackedStep.compact`` does both)."""
        kept = self.active.nonzero().flatten()
        if len(kept) == 0:
            raise ConfigError("every member is masked; keep at least one before compacting")
        if len(kept) < self.members:
            for p in [*self.weights, *self.biases]:
                p.data = p.data[kept]  # the same Parameter objects: optimizers keep them
            for name in ("dropout_rates", "active", "member_ids"):
                setattr(self, name, getattr(self, name)[kept])
        return kept

    def extra_repr(self) -> str:
        sizes = " -> ".join(str(s) for s in [self.in_features, *self.hidden, self.out_features])
        return f"{self.members} members, {sizes}, activation={self.activation}"


def _stack_problem(mlp: Any, first: MLP) -> str | None:
    if type(mlp) is not MLP:
        return f"it is a {type(mlp).__name__}, not an mlpkit.MLP"
    if mlp.batch_norm or mlp.log_softmax:
        return "batch normalisation and a log-softmax head are not stacked; build it without"
    if not isinstance(mlp.activation, str):
        return "it has one activation per layer; a stack takes one for all layers"
    shape = ("in_features", "hidden", "out_features", "activation")
    if any(getattr(mlp, a) != getattr(first, a) for a in shape):
        return f"its shape {mlp.extra_repr()} differs from the first one's ({first.extra_repr()})"
    return None


def member_values(what: str, value: float | Sequence[float] | Tensor, members: int) -> Tensor:
    """One number per member as a (K, 1, 1) float tensor, from one number or K of them.

    >>> member_values("lr", [0.1, 0.2], 2).shape
    torch.Size([2, 1, 1])
    """
    values = torch.as_tensor(value, dtype=torch.float32).detach().flatten().clone()
    if values.numel() == 1:
        values = values.expand(members).clone()
    if values.numel() != members:
        raise ConfigError(f"give {what} as one number or one per member ({members}), got {value}")
    return values.view(members, 1, 1)
