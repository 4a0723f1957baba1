"""Activations run by hand: a forward and a backward kernel per activation module type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

aten = torch.ops.aten


@dataclass(frozen=True)
class ActivationKernels:
    """How to run one activation by hand.

    ``forward(z, out)`` writes the activation of ``z`` into ``out``; ``backward(g, saved, out)``
    writes the gradient with respect to ``z``. When ``uses_result`` is true the backward needs only
    the output, so the forward runs in place on ``z``; otherwise ``z`` is kept for the backward.
    """

    forward: Callable[[Tensor, Tensor], Tensor]
    backward: Callable[[Tensor, Tensor, Tensor], Tensor]
    uses_result: bool


def _relu(m: nn.ReLU) -> ActivationKernels:
    return ActivationKernels(
        lambda z, out: aten.relu.out(z, out=out),
        lambda g, r, out: aten.threshold_backward.grad_input(g, r, 0, grad_input=out),
        uses_result=True,
    )


def _leaky_relu(m: nn.LeakyReLU) -> ActivationKernels:
    s = m.negative_slope
    # With a negative slope the sign of the output no longer tells the sign of the input.
    return ActivationKernels(
        lambda z, out: aten.leaky_relu.out(z, s, out=out),
        lambda g, v, out: aten.leaky_relu_backward.grad_input(g, v, s, s >= 0, grad_input=out),
        uses_result=s >= 0,
    )


def _elu(m: nn.ELU) -> ActivationKernels:
    a, from_result = m.alpha, m.alpha >= 0
    return ActivationKernels(
        lambda z, out: aten.elu.out(z, a, 1, 1, out=out),
        lambda g, v, out: aten.elu_backward.grad_input(g, a, 1, 1, from_result, v, grad_input=out),
        uses_result=from_result,
    )


def _tanh(m: nn.Tanh) -> ActivationKernels:
    return ActivationKernels(
        lambda z, out: aten.tanh.out(z, out=out),
        lambda g, r, out: aten.tanh_backward.grad_input(g, r, grad_input=out),
        uses_result=True,
    )


def _sigmoid(m: nn.Sigmoid) -> ActivationKernels:
    return ActivationKernels(
        lambda z, out: aten.sigmoid.out(z, out=out),
        lambda g, r, out: aten.sigmoid_backward.grad_input(g, r, grad_input=out),
        uses_result=True,
    )


def _gelu(m: nn.GELU) -> ActivationKernels:
    a = m.approximate
    return ActivationKernels(
        lambda z, out: aten.gelu.out(z, approximate=a, out=out),
        lambda g, z, out: aten.gelu_backward.grad_input(g, z, approximate=a, grad_input=out),
        uses_result=False,
    )


def _silu(m: nn.SiLU) -> ActivationKernels:
    return ActivationKernels(
        lambda z, out: aten.silu.out(z, out=out),
        lambda g, z, out: aten.silu_backward.grad_input(g, z, grad_input=out),
        uses_result=False,
    )


def _selu(m: nn.SELU) -> ActivationKernels:
    # SELU is ELU scaled: scale * elu(z, alpha), torch's constants; its output keeps z's sign.
    a, k = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return ActivationKernels(
        lambda z, out: aten.elu.out(z, a, k, 1, out=out),
        lambda g, r, out: aten.elu_backward.grad_input(g, a, k, 1, True, r, grad_input=out),
        uses_result=True,
    )


def _mish(m: nn.Mish) -> ActivationKernels:
    return ActivationKernels(
        lambda z, out: aten.mish.out(z, out=out),
        lambda g, z, out: out.copy_(aten.mish_backward(g, z)),  # torch has no out= form
        uses_result=False,
    )


# Exact module type -> kernels. Adding an activation is one entry.
ACTIVATION_KERNELS: dict[type[nn.Module], Callable[[Any], ActivationKernels]] = {
    nn.ReLU: _relu,
    nn.LeakyReLU: _leaky_relu,
    nn.ELU: _elu,
    nn.Tanh: _tanh,
    nn.Sigmoid: _sigmoid,
    nn.GELU: _gelu,
    nn.SiLU: _silu,
    nn.SELU: _selu,
    nn.Mish: _mish,
}
