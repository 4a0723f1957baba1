"""Predictions of a stacked model as one ensemble: the mean of its active members'
probabilities (classification) or values (regression)."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..models import ARCHITECTURES
from .model import StackedMLP

Task = Literal["classification", "regression"]


def ensemble_mean(outputs: Tensor, task: Task, active: Tensor | None = None) -> Tensor:
    """(n, out) from the members' (K, n, out) outputs: the mean of their softmax
    probabilities, or of their values; members where ``active`` is False are left out.

    >>> ensemble_mean(torch.tensor([[[0.0, 0.0]], [[9.0, -9.0]]]), "regression")
    tensor([[ 4.5000, -4.5000]])
    """
    outputs = _active(outputs, task, active)
    if task == "classification":
        outputs = torch.softmax(outputs, dim=2)
    return outputs.mean(0)


def ensemble_log_probabilities(outputs: Tensor, active: Tensor | None = None) -> Tensor:
    """The log of the members' mean probabilities, (n, classes), computed stably. They serve
    wherever logits do: their softmax is the ensemble's probabilities, and cross-entropy on them
    is the ensemble's negative log-likelihood.

    >>> ensemble_log_probabilities(torch.zeros(3, 1, 2)).exp()
    tensor([[0.5000, 0.5000]])
    """
    outputs = _active(outputs, "classification", active)
    members = outputs.shape[0]
    return torch.logsumexp(torch.log_softmax(outputs, dim=2), dim=0) - math.log(members)


def _active(outputs: Tensor, task: str, active: Tensor | None) -> Tensor:
    if task not in ("classification", "regression"):
        raise ConfigError(f"task is classification or regression, got {task!r}")
    if outputs.dim() != 3:
        raise ConfigError(f"expected the members' outputs, (K, n, out), got {tuple(outputs.shape)}")
    return outputs if active is None else outputs[active.to(outputs.device)]


class Ensemble(nn.Module):
    """A ``StackedMLP`` as one model of (n, out) outputs, for evaluation, metrics and export:
    for classification the log of the members' mean probabilities (logits of the ensemble:
    softmax, argmax and cross-entropy on them are the ensemble's), for regression the mean of
    their values. Masked members are left out (weighted by zero, which exports as a graph
    without data-dependent shapes).

    >>> model = Ensemble(StackedMLP(3, 4, [8], 2), "classification").eval()
    >>> torch.allclose(model(torch.zeros(5, 4)).softmax(1).sum(1), torch.ones(5))
    True
    """

    def __init__(self, stack: StackedMLP, task: Task) -> None:
        super().__init__()
        _active(torch.zeros(1, 1, 1), task, None)  # checks the task
        self.stack, self.task = stack, task

    @classmethod
    def from_arguments(cls, task: Task, **stack: Any) -> Ensemble:
        """The ensemble ``arguments()`` describes (how ``mlpkit.load_model`` rebuilds it)."""
        return cls(StackedMLP(**stack), task)

    def arguments(self) -> dict[str, Any]:
        """The constructor arguments, enough to build the same architecture again."""
        stack = self.stack
        rates = stack.dropout_rates.flatten().tolist()
        return {
            "task": self.task, "members": stack.members, "in_features": stack.in_features,
            "hidden": list(stack.hidden), "out_features": stack.out_features,
            "activation": stack.activation, "dropout": rates if len(set(rates)) > 1 else rates[0],
        }  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        outputs = self.stack(x)
        weights = self.stack.active.to(outputs.dtype).view(-1, 1, 1)
        if self.task == "classification":
            log_weights = torch.log(weights / weights.sum())
            return torch.logsumexp(torch.log_softmax(outputs, dim=2) + log_weights, dim=0)
        return (outputs * weights).sum(0) / weights.sum()


# mlpkit.load_model rebuilds a saved ensemble from its arguments.
ARCHITECTURES["Ensemble"] = Ensemble.from_arguments  # type: ignore[assignment]
